// libsodium must be initialised once before use; every entry point that
// reaches libsodium calls ensure_sodium() first. Thread-safe (magic statics).
#pragma once

namespace custodia::crypto::detail {
void ensure_sodium();
}
