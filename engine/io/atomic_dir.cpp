// AtomicDir: see atomic_dir.h.
#include "io/atomic_dir.h"

#include <random>
#include <sstream>

#include "core/error.h"

namespace fs = std::filesystem;

namespace den2moe {

std::string random_hex_suffix() {
    std::random_device rd;
    std::ostringstream os;
    os << std::hex << ((uint64_t(rd()) << 32) ^ rd());
    return os.str();
}

AtomicDir::AtomicDir(const std::string& final_dir, std::string what) : final_(final_dir), what_(std::move(what)) {
    std::error_code ec;
    final_ = fs::absolute(final_, ec).lexically_normal();
    if (final_.filename().empty()) final_ = final_.parent_path();  // "dir/" -> "dir"
    fs::create_directories(final_.parent_path(), ec);
    D2M_CHECK(!ec, Io, what_, ": cannot create the folder ", final_.parent_path().string(), ": ", ec.message(),
              Hint{"is the location writable?"});
    tmp_ = final_.parent_path() / ("." + final_.filename().string() + ".tmp-" + random_hex_suffix());
    fs::create_directory(tmp_, ec);
    D2M_CHECK(!ec, Io, what_, ": cannot create the temporary folder ", tmp_.string(), ": ", ec.message(),
              Hint{"is the location writable?"});
}

AtomicDir::~AtomicDir() {
    if (!committed_) {
        std::error_code ec;
        fs::remove_all(tmp_, ec);
    }
}

void AtomicDir::commit() {
    std::error_code ec;
    fs::path old;
    if (fs::exists(final_, ec)) {
        old = final_.parent_path() / ("." + final_.filename().string() + ".old-" + random_hex_suffix());
        fs::rename(final_, old, ec);
        D2M_CHECK(!ec, Io, what_, ": cannot move the earlier folder ", final_.string(), " aside: ", ec.message());
    }
    fs::rename(tmp_, final_, ec);
    if (ec) {
        std::error_code ec2;
        if (!old.empty()) fs::rename(old, final_, ec2);
        D2M_FAIL(Io, what_, ": cannot move ", tmp_.string(), " to ", final_.string(), ": ", ec.message());
    }
    committed_ = true;
    if (!old.empty()) fs::remove_all(old, ec);
}

}  // namespace den2moe
