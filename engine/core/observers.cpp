// ObserverSet: the registry behind the forward pass's named hook sites.
#include "core/observers.h"

#include <algorithm>

namespace den2moe {

int ObserverSet::add(std::string site, Fn fn, int layer) {
    int id = next_id_++;
    entries_.push_back(Entry{id, std::move(site), layer, std::move(fn)});
    return id;
}

void ObserverSet::remove(int id) {
    entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                  [id](const Entry& e) { return e.id == id; }),
                   entries_.end());
}

void ObserverSet::clear() { entries_.clear(); }

bool ObserverSet::wants(const char* site, int layer) const {
    for (const auto& e : entries_) {
        if (e.site == site && (e.layer < 0 || e.layer == layer)) return true;
    }
    return false;
}

void ObserverSet::emit(const char* site, int layer, const at::Tensor& t,
                       const at::Tensor& token_mask) const {
    HookEvent ev{site, layer, t, token_mask};
    for (const auto& e : entries_) {
        if (e.site == site && (e.layer < 0 || e.layer == layer)) e.fn(ev);
    }
}

}  // namespace den2moe
