// AtomicDir: an output folder written as a whole. Everything goes into a hidden temporary sibling
// folder (".NAME.tmp-XXXX"); commit() renames it into place, replacing an earlier folder of the same
// name as a whole (moved aside first, restored if the rename fails). A failure, a cancel or a crash
// before commit() leaves the earlier folder untouched; the destructor removes the temporary one.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace den2moe {

class AtomicDir {
public:
    /// `what` names the job in errors ("export", "convert"). Creates the parent folders and the
    /// temporary folder; throws Error(Io) naming the path when it cannot.
    AtomicDir(const std::string& final_dir, std::string what);
    ~AtomicDir();
    AtomicDir(const AtomicDir&) = delete;
    AtomicDir& operator=(const AtomicDir&) = delete;

    /// The temporary folder to write into.
    const std::filesystem::path& path() const { return tmp_; }
    /// `name` inside the temporary folder.
    std::string file(const std::string& name) const { return (tmp_ / name).string(); }
    /// Move the temporary folder into place. Throws Error(Io) when it cannot (the earlier folder, if
    /// any, is then back in place).
    void commit();

private:
    std::filesystem::path final_, tmp_;
    std::string what_;
    bool committed_ = false;
};

/// Several files written into `dir` as one step, for a job whose outputs share a folder with other
/// things (a mining folder holds its statistics cache; `den2moe cluster` rewrites two of its six files).
/// Every file is written whole into a hidden temporary folder first — a sibling renamed into place
/// when `dir` does not exist yet, else `dir/.staging.tmp-XXXX` — and only then renamed over its name,
/// each rename atomic. A failure while writing (disk full, a file-size limit, a name taken by a folder)
/// leaves `dir` as it was and no temporary file; other files in `dir` are kept. `what` names the job
/// in errors. Names are plain file names.
void write_files_atomic(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& files,
                        const std::string& what);

/// A random hex suffix for temporary names.
std::string random_hex_suffix();

}  // namespace den2moe
