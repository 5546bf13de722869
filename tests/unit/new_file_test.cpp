// core::NewFile, how bundles and extracted evidence are written: nothing is
// visible in the directory until commit, not even after kill -9, and commit
// gives the exact bytes and mode, refusing or replacing an existing file as
// asked. Run on the test file system (ext4 here) and on tmpfs.
#include "custodia/core/new_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "support/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using custodia::core::NewFile;

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
    return names;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(int fd, const std::string& text) {
    ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
}

void check_commit_and_replace(const fs::path& dir) {
    const fs::path target = dir / "evidence.bin";
    {
        auto file = NewFile::create(target, 0600);
        ASSERT_TRUE(file.ok()) << file.error().message;
        write_text(file->fd(), "first version");
        EXPECT_TRUE(names_in(dir).empty()) << "visible before commit: " << names_in(dir).at(0);
        ASSERT_TRUE(file->commit(NewFile::Replace::no).ok());
    }
    EXPECT_EQ(read_file(target), "first version");
    struct stat st {};
    ASSERT_EQ(::stat(target.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600u);

    {  // Never replaces when told not to; the old file stays as it was.
        auto file = NewFile::create(target, 0600);
        ASSERT_TRUE(file.ok());
        write_text(file->fd(), "second version");
        EXPECT_FALSE(file->commit(NewFile::Replace::no).ok());
    }
    EXPECT_EQ(read_file(target), "first version");
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"evidence.bin"});

    {  // Replaces when told to, with the mode asked for.
        auto file = NewFile::create(target, 0640);
        ASSERT_TRUE(file.ok());
        write_text(file->fd(), "third version");
        ASSERT_TRUE(file->commit(NewFile::Replace::yes).ok());
    }
    EXPECT_EQ(read_file(target), "third version");
    ASSERT_EQ(::stat(target.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0640u);
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"evidence.bin"});

    {  // Discarded: nothing left.
        auto file = NewFile::create(dir / "dropped.bin", 0600);
        ASSERT_TRUE(file.ok());
        write_text(file->fd(), "never committed");
    }
    EXPECT_EQ(names_in(dir), std::vector<std::string>{"evidence.bin"});
}

// A child writes plaintext into a NewFile and is killed with SIGKILL before
// it commits: the directory must stay empty.
void check_kill_leaves_nothing(const fs::path& dir) {
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        auto file = NewFile::create(dir / "plaintext.txt", 0600);
        if (!file) ::_exit(2);
        const std::string secret(1 << 20, 's');
        if (::write(file->fd(), secret.data(), secret.size()) < 0) ::_exit(3);
        (void)::fsync(file->fd());
        (void)::write(ready[1], "w", 1);
        for (;;) ::pause();
    }
    ::close(ready[1]);
    char c = 0;
    ASSERT_EQ(::read(ready[0], &c, 1), 1) << "the child could not write its file";
    ::close(ready[0]);
    EXPECT_TRUE(names_in(dir).empty()) << "visible while being written";
    ASSERT_EQ(::kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    EXPECT_TRUE(WIFSIGNALED(status));
    EXPECT_TRUE(names_in(dir).empty()) << "left behind by kill -9: " << names_in(dir).at(0);
}

TEST(NewFile, CommitsExactlyAndRefusesOrReplacesOnTheTestFileSystem) {
    custodia::testing::TempDir dir;
    check_commit_and_replace(dir.path());
}

TEST(NewFile, KillBeforeCommitLeavesNothingOnTheTestFileSystem) {
    custodia::testing::TempDir dir;
    check_kill_leaves_nothing(dir.path());
}

TEST(NewFile, CommitsAndLeavesNothingAfterKillOnTmpfs) {
    ASSERT_TRUE(fs::is_directory("/dev/shm")) << "no tmpfs at /dev/shm";
    char tmpl[] = "/dev/shm/custodia-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const fs::path dir = tmpl;
    check_commit_and_replace(dir);
    fs::remove_all(dir);
    fs::create_directory(dir);
    check_kill_leaves_nothing(dir);
    fs::remove_all(dir);
}

TEST(NewFile, MissingDirectoryIsAClearError) {
    custodia::testing::TempDir dir;
    auto file = NewFile::create(dir / "no-such-dir" / "x.bin", 0600);
    ASSERT_FALSE(file.ok());
    EXPECT_NE(file.error().message.find("no-such-dir"), std::string::npos) << file.error().message;
}

}  // namespace
