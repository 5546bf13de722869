// Real parts for the sync tests: the custodia-intake binary as a child
// process, a test CA made with openssl, a TCP proxy that counts, throttles
// and cuts connections, and microsocks as a real SOCKS5 proxy. Every child
// process is stopped (kill + waitpid) by its owner's destructor, so a failing
// assertion never leaves one behind.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "custodia/core/clock.h"
#include "support/process.h"

extern char** environ;

namespace custodia::testing {

inline std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
}

class WallClock final : public core::Clock {
  public:
    core::Timestamp now() override {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
        return {ms, 0};
    }
    std::string source() const override { return "system"; }
};

// A port nothing listens on: bound, then closed again.
inline int closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

// A child process whose stdout and stderr go to files. Stopped with SIGTERM
// (then SIGKILL) and reaped by stop() or the destructor.
class ChildProcess {
  public:
    ChildProcess(const std::vector<std::string>& argv, const std::filesystem::path& out,
                 const std::filesystem::path& err) {
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                         0600);
        posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                         0600);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) throw std::runtime_error("cannot start " + argv[0]);
    }
    ~ChildProcess() { stop(); }
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    pid_t pid() const { return pid_; }
    bool running() {
        if (pid_ <= 0) return false;
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            exit_status_ = status;
            return false;
        }
        return true;
    }
    // Waits up to `timeout` for the process to end by itself.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < until) {
            if (!running()) {
                return WIFEXITED(exit_status_) ? WEXITSTATUS(exit_status_) : -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return std::nullopt;
    }
    void kill9() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        if (!wait_exit(std::chrono::seconds(5))) kill9();
    }

  private:
    pid_t pid_ = -1;
    int exit_status_ = 0;
};

// The openssl commands an NGO would use: a CA, and a server certificate for
// 127.0.0.1 and localhost signed by it.
struct TestCa {
    std::filesystem::path ca_cert, server_cert, server_key, other_ca_cert;

    static TestCa make(const std::filesystem::path& dir) {
        TestCa ca{dir / "ca.pem", dir / "server.pem", dir / "server.key", dir / "other-ca.pem"};
        const std::string d = quote(dir.string());
        const std::string script =
            "set -e; cd " + d +
            "; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key "
            "2>/dev/null"
            "; openssl req -x509 -new -key ca.key -subj '/CN=Custodia Test CA' -days 2 -out ca.pem"
            " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
            "; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out other.key "
            "2>/dev/null"
            "; openssl req -x509 -new -key other.key -subj '/CN=Other CA' -days 2 -out other-ca.pem"
            " -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign"
            "; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server.key "
            "2>/dev/null"
            "; openssl req -new -key server.key -subj '/CN=127.0.0.1' -out server.csr"
            "; printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n"
            "extendedKeyUsage=serverAuth\\n' > ext.cnf"
            "; openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
            " -extfile ext.cnf -out server.pem 2>/dev/null"
            "; chmod 600 server.key; echo ok";
        const auto r = run_shell("sh -c " + quote(script));
        if (r.exit_code != 0 || r.out.find("ok") == std::string::npos)
            throw std::runtime_error("openssl could not make the test CA");
        return ca;
    }
};

// custodia-intake serving from `dir` on 127.0.0.1 with TLS.
class IntakeServer {
  public:
    IntakeServer(std::filesystem::path dir, const TestCa& ca, std::vector<std::string> extra = {},
                 int port = 0)
        : dir_(std::move(dir)), log_(dir_.parent_path() / (dir_.filename().string() + ".log")) {
        start(ca, std::move(extra), port);
    }

    void start(const TestCa& ca, std::vector<std::string> extra, int port) {
        const auto before = read_text(log_).size();
        std::vector<std::string> argv = {CUSTODIA_INTAKE, "--dir",
                                         dir_.string(),   "serve",
                                         "--listen",      "127.0.0.1:" + std::to_string(port),
                                         "--tls-cert",    ca.server_cert.string(),
                                         "--tls-key",     ca.server_key.string()};
        argv.insert(argv.end(), extra.begin(), extra.end());
        extra_ = extra;
        process_ = std::make_unique<ChildProcess>(argv, log_, log_);
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        while (std::chrono::steady_clock::now() < until) {
            const std::string text = read_text(log_).substr(before);
            std::istringstream lines(text);
            std::string line;
            while (std::getline(lines, line)) {
                const auto j = nlohmann::json::parse(line, nullptr, false);
                if (j.is_object() && j.value("event", "") == "listening") {
                    port_ = j["port"].get<int>();
                    return;
                }
            }
            if (!process_->running()) throw std::runtime_error("custodia-intake exited: " + text);
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        throw std::runtime_error("custodia-intake did not start");
    }

    // kill -9, then the same server again on the same port.
    void kill9() { process_->kill9(); }
    void restart(const TestCa& ca) { start(ca, extra_, port_); }
    void stop() { process_->stop(); }

    int port() const { return port_; }
    std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
    const std::filesystem::path& dir() const { return dir_; }
    std::string log() const { return read_text(log_); }

  private:
    std::filesystem::path dir_;
    std::filesystem::path log_;
    std::vector<std::string> extra_;
    std::unique_ptr<ChildProcess> process_;
    int port_ = 0;
};

// Runs an administration command; returns stdout, or throws.
inline std::string intake_admin(const std::filesystem::path& dir, const std::string& args) {
    const auto r = run_shell(std::string(CUSTODIA_INTAKE) + " --dir " + quote(dir.string()) + " " +
                             args + " 2>&1");
    if (r.exit_code != 0) throw std::runtime_error("custodia-intake " + args + ": " + r.out);
    return r.out;
}

// A TCP forwarder on 127.0.0.1 that counts what the client sends, can
// throttle it, and can cut each connection after a number of bytes.
class TcpProxy {
  public:
    explicit TcpProxy(int target_port) : target_port_(target_port) {
        listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const int one = 1;
        ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(listen_fd_, 64) != 0)
            throw std::runtime_error("proxy cannot listen");
        socklen_t len = sizeof addr;
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
        port_ = ntohs(addr.sin_port);
        accept_thread_ = std::thread([this] { accept_loop(); });
    }
    ~TcpProxy() {
        stopping_ = true;
        ::shutdown(listen_fd_, SHUT_RDWR);
        accept_thread_.join();
        ::close(listen_fd_);
        std::vector<std::thread> workers;
        {
            std::lock_guard lock(mutex_);
            workers.swap(workers_);
        }
        for (auto& t : workers) t.join();
    }
    TcpProxy(const TcpProxy&) = delete;
    TcpProxy& operator=(const TcpProxy&) = delete;

    int port() const { return port_; }
    std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
    void set_target(int port) { target_port_ = port; }
    // Called once per connection: client-to-server bytes after which it is
    // cut (0 = never).
    void set_cut_policy(std::function<std::uint64_t()> policy) {
        std::lock_guard lock(mutex_);
        cut_policy_ = std::move(policy);
    }
    void set_rate(std::uint64_t bytes_per_second) { rate_ = bytes_per_second; }

    std::uint64_t connections() const { return connections_; }
    std::uint64_t bytes_up() const { return bytes_up_; }
    std::uint64_t cuts() const { return cuts_; }
    std::set<std::string> peers() {
        std::lock_guard lock(mutex_);
        return peers_;
    }

  private:
    void accept_loop() {
        while (!stopping_) {
            sockaddr_in peer{};
            socklen_t len = sizeof peer;
            const int client =
                ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
            if (client < 0) {
                if (stopping_) return;
                continue;
            }
            char text[INET_ADDRSTRLEN] = {};
            ::inet_ntop(AF_INET, &peer.sin_addr, text, sizeof text);
            std::uint64_t cut = 0;
            {
                std::lock_guard lock(mutex_);
                peers_.insert(text);
                if (cut_policy_) cut = cut_policy_();
            }
            ++connections_;
            std::lock_guard lock(mutex_);
            workers_.emplace_back([this, client, cut] { forward(client, cut); });
        }
    }

    void forward(int client, std::uint64_t cut) {
        const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<std::uint16_t>(target_port_.load()));
        if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(server);
            ::close(client);
            return;
        }
        // Forward each piece as it comes, as relays do (Tor, reverse proxies):
        // with Nagle, a short answer split in two TLS records would wait for
        // the peer's delayed ACK, 40 ms per request that no real link adds.
        const int one = 1;
        (void)::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        (void)::setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        std::uint64_t up = 0;
        const auto started = std::chrono::steady_clock::now();
        std::vector<char> buf(64 * 1024);
        pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
        while (!stopping_) {
            if (::poll(fds, 2, 200) < 0) break;
            bool done = false;
            for (int i = 0; i < 2 && !done; ++i) {
                if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
                std::size_t want = buf.size();
                if (i == 0 && cut > 0) want = std::min<std::uint64_t>(want, cut - up);
                const ssize_t n = ::recv(fds[i].fd, buf.data(), want, 0);
                if (n <= 0) {
                    done = true;
                    break;
                }
                const int to = i == 0 ? server : client;
                if (::send(to, buf.data(), static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) {
                    done = true;
                    break;
                }
                if (i == 0) {
                    up += static_cast<std::uint64_t>(n);
                    bytes_up_ += static_cast<std::uint64_t>(n);
                    if (cut > 0 && up >= cut) {
                        ++cuts_;
                        done = true;
                    }
                    if (const auto rate = rate_.load(); rate > 0) {
                        const auto due = started + std::chrono::microseconds(up * 1'000'000 / rate);
                        std::this_thread::sleep_until(due);
                    }
                }
            }
            if (done) break;
        }
        ::close(server);
        ::close(client);
    }

    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<int> target_port_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> rate_{0};
    std::atomic<std::uint64_t> connections_{0};
    std::atomic<std::uint64_t> bytes_up_{0};
    std::atomic<std::uint64_t> cuts_{0};
    std::mutex mutex_;
    std::function<std::uint64_t()> cut_policy_;
    std::set<std::string> peers_;
    std::vector<std::thread> workers_;
    std::thread accept_thread_;
};

}  // namespace custodia::testing
