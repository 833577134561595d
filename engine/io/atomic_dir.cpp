// AtomicDir: see atomic_dir.h.
#include "io/atomic_dir.h"

#include <random>
#include <sstream>

#include "core/error.h"
#include "io/safetensors_format.h"

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

void write_files_atomic(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& files,
                        const std::string& what) {
    for (const auto& [name, text] : files) {
        D2M_ASSERT(!name.empty() && name.find('/') == std::string::npos && name != "." && name != "..");
        (void)text;
    }
    std::error_code ec;
    if (!fs::exists(dir, ec)) {  // a new folder: it appears whole
        AtomicDir out(dir, what);
        for (const auto& [name, text] : files) write_file_atomic(out.file(name), text);
        out.commit();
        return;
    }
    D2M_CHECK(fs::is_directory(dir, ec), InvalidInput, what, ": ", dir, " exists and is not a folder",
              Hint{"choose another output folder"});
    // every name must be free for a file before anything is written
    for (const auto& [name, text] : files) {
        const fs::path target = fs::path(dir) / name;
        D2M_CHECK(!fs::exists(target, ec) || fs::is_regular_file(target, ec), InvalidInput, what, ": ",
                  target.string(), " exists and is not a file", Hint{"move it away or choose another output folder"});
    }
    const fs::path stage = fs::path(dir) / (".staging.tmp-" + random_hex_suffix());
    fs::create_directory(stage, ec);
    D2M_CHECK(!ec, Io, what, ": cannot create the temporary folder ", stage.string(), ": ", ec.message(),
              Hint{"is the folder writable?"});
    struct Cleanup {
        fs::path p;
        ~Cleanup() {
            std::error_code e;
            fs::remove_all(p, e);
        }
    } cleanup{stage};
    for (const auto& [name, text] : files) write_file_atomic((stage / name).string(), text);
    for (const auto& [name, text] : files) {
        fs::rename(stage / name, fs::path(dir) / name, ec);
        D2M_CHECK(!ec, Io, what, ": cannot move ", (stage / name).string(), " to ", (fs::path(dir) / name).string(), ": ",
                  ec.message());
    }
}

}  // namespace den2moe
