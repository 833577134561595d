// Tests for engine/io/safetensors: round trip of every common dtype with metadata, reading the
// shared demo checkpoint (values cross-checked against Python), sharded index checkpoints, atomic
// writes, and one crafted bad file per header validation, each asserting the message names the
// file and the tensor and says what was expected vs found.
#include <ATen/ATen.h>

#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "io/safetensors.h"
// glog (via ATen) defines CHECK / CHECK_EQ too; the test macros replace them.
#undef CHECK
#undef CHECK_EQ
#include "support/check.h"
#include "io_test_util.h"

using namespace den2moe;

using io_test::fresh_dir;
using io_test::read_bytes;
using io_test::write_bytes;

namespace {

io_test::ScratchCleanup scratch_cleanup;  // destroyed after the tests ran



std::string u64_le(uint64_t v) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[size_t(i)] = char((v >> (8 * i)) & 0xff);
    return s;
}

/// A safetensors file with `header` verbatim and `data_bytes` zero bytes of data.
std::string craft(const std::string& header, size_t data_bytes) {
    return u64_le(header.size()) + header + std::string(data_bytes, '\0');
}


int count_tmp_files(const std::string& dir) {
    int n = 0;
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d))
            if (std::string(e->d_name).find(".tmp-") != std::string::npos) ++n;
        ::closedir(d);
    }
    return n;
}

}  // namespace

TEST(round_trip_dtypes_and_metadata) {
    const std::string dir = fresh_dir("roundtrip");
    const std::string path = dir + "/rt.safetensors";
    at::Tensor f32 = at::arange(6, at::kFloat).view({2, 3}) * 0.5 - 1.0;  // [2, 3]
    at::Tensor f16 = at::tensor({1.5, -2.25, 65504.0, 0.0}).to(at::kHalf);     // [4]
    at::Tensor bf16 = at::tensor({3.0, -0.5, 1e-3, 7.0, 8.0, -9.0}).to(at::kBFloat16).view({3, 2});  // [3, 2]
    at::Tensor i64 = at::tensor(std::vector<int64_t>{int64_t(1) << 40, -3, 0, 42, 7}, at::kLong);  // [5]
    at::Tensor u8 = at::tensor({0, 255, 17}, at::kByte);
    at::Tensor flags = at::tensor({1, 0, 1}, at::kByte).to(at::kBool);
    at::Tensor f64_scalar = at::scalar_tensor(3.25, at::kDouble);           // []
    at::Tensor transposed = at::arange(12, at::kFloat).view({3, 4}).t();   // [4, 3], not contiguous
    at::Tensor empty = at::empty({0, 5}, at::kFloat);
    save_safetensors(path,
                     {{"z.f32", f32}, {"a.f16", f16}, {"m.bf16", bf16}, {"i64", i64}, {"u8", u8},
                      {"flags", flags}, {"scalar", f64_scalar}, {"t", transposed}, {"empty", empty}},
                     {{"format", "pt"}, {"note", "den2moe test"}});
    CHECK_EQ(count_tmp_files(dir), 0);

    // Header length is a multiple of 8, so the data section is aligned.
    const std::string raw = read_bytes(path);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | uint8_t(raw[size_t(i)]);
    CHECK_EQ(hlen % 8, uint64_t(0));
    CHECK(raw.substr(8, hlen).find("\"__metadata__\"") != std::string::npos);

    SafetensorsReader r = SafetensorsReader::open(path);
    std::vector<std::string> expected_names = {"a.f16", "empty", "flags", "i64", "m.bf16",
                                               "scalar", "t", "u8", "z.f32"};
    CHECK(r.names() == expected_names);
    CHECK(r.has("i64"));
    CHECK(!r.has("nope"));
    CHECK(r.info("a.f16").dtype == StDType::F16);
    CHECK(r.info("m.bf16").dtype == StDType::BF16);
    CHECK(r.info("i64").dtype == StDType::I64);
    CHECK(r.info("z.f32").shape == Shape({2, 3}));
    CHECK(r.info("scalar").shape == Shape{});
    CHECK_EQ(r.info("z.f32").end - r.info("z.f32").begin, uint64_t(24));
    // Data follows the sorted name order.
    CHECK_EQ(r.info("a.f16").begin, uint64_t(0));
    CHECK(r.info("z.f32").begin > r.info("u8").begin);

    at::Tensor g = r.get("z.f32");
    CHECK(g.scalar_type() == at::kFloat && g.is_contiguous());
    CHECK(at::equal(g, f32));
    CHECK(r.get("a.f16").scalar_type() == at::kHalf && at::equal(r.get("a.f16"), f16));
    CHECK(r.get("m.bf16").scalar_type() == at::kBFloat16 && at::equal(r.get("m.bf16"), bf16));
    CHECK(r.get("i64").scalar_type() == at::kLong && at::equal(r.get("i64"), i64));
    CHECK_EQ(r.get("i64")[0].item<int64_t>(), int64_t(1) << 40);
    CHECK(at::equal(r.get("u8"), u8));
    CHECK(r.get("flags").scalar_type() == at::kBool && at::equal(r.get("flags"), flags));
    CHECK(r.get("scalar").dim() == 0);
    CHECK_CLOSE(r.get("scalar").item<double>(), 3.25, 0.0);
    CHECK(at::equal(r.get("t"), transposed.contiguous()));
    CHECK(r.get("empty").sizes().vec() == Shape({0, 5}));
    CHECK_EQ(r.metadata().size(), size_t(2));
    CHECK_EQ(r.metadata().at("note"), std::string("den2moe test"));
    CHECK_EQ(r.describe_source("i64"), path);

    // Tensors own their memory and outlive the reader; a moved reader keeps working.
    at::Tensor kept = r.get("z.f32");
    SafetensorsReader moved = std::move(r);
    CHECK(at::equal(moved.get("i64"), i64));
    { SafetensorsReader gone = std::move(moved); }
    CHECK(at::equal(kept, f32));

    // Overwrite is atomic (rename over the old file), and no metadata means no __metadata__.
    save_safetensors(path, {{"only", f32}});
    SafetensorsReader r2 = SafetensorsReader::open(path);
    CHECK(r2.names() == std::vector<std::string>{"only"});
    CHECK(r2.metadata().empty());
    CHECK(read_bytes(path).find("__metadata__") == std::string::npos);
    CHECK_EQ(count_tmp_files(dir), 0);
    CHECK_THROWS_WITH(r2.info("z.f32"), "Tensor z.f32 is not in " + path);
}

TEST(reads_demo_model) {
    // Values from /usr/bin/python3 reading the file directly (bf16 = high half of a float32):
    //   f = open(p,'rb').read(); n = struct.unpack('<Q', f[:8])[0]; h = json.loads(f[8:8+n])
    //   b, e = h[name]['data_offsets']; u = np.frombuffer(f[8+n+b:8+n+e], '<u2').astype(np.uint32) << 16
    //   w = u.view(np.float32).reshape(h[name]['shape'])
    // gate_proj[0,0] = 0.07128906, [0,1] = 0.028442383, [767,255] = -0.040039062, [100,37] = 0.060546875
    // model.norm.weight[0] = 1.75, [255] = 1.640625; layers.5 k_proj [128, 256], [127,3] = 0.02319336
    const std::string path = d2m_test::shared_dir() + "/models/demo-llama-7m/model.safetensors";
    SafetensorsReader r = SafetensorsReader::open(path);
    CHECK_EQ(r.names().size(), size_t(6 * 9 + 3));
    const TensorInfo& gi = r.info("model.layers.0.mlp.gate_proj.weight");
    CHECK(gi.dtype == StDType::BF16);
    CHECK(gi.shape == Shape({768, 256}));
    at::Tensor g = r.get("model.layers.0.mlp.gate_proj.weight");  // [F, D]
    CHECK(g.scalar_type() == at::kBFloat16);
    CHECK(g.sizes().vec() == Shape({768, 256}));
    at::Tensor gf = g.to(at::kFloat);
    CHECK_CLOSE(gf[0][0].item<float>(), 0.07128906, 1e-7);
    CHECK_CLOSE(gf[0][1].item<float>(), 0.028442383, 1e-7);
    CHECK_CLOSE(gf[767][255].item<float>(), -0.040039062, 1e-7);
    CHECK_CLOSE(gf[100][37].item<float>(), 0.060546875, 1e-7);
    at::Tensor n = r.get("model.norm.weight").to(at::kFloat);  // [D]
    CHECK_CLOSE(n[0].item<float>(), 1.75, 0.0);
    CHECK_CLOSE(n[255].item<float>(), 1.640625, 0.0);
    at::Tensor k = r.get("model.layers.5.self_attn.k_proj.weight");  // [Hkv*Dh, D]
    CHECK(k.sizes().vec() == Shape({128, 256}));
    CHECK_CLOSE(k[127][3].item().toFloat(), 0.02319336, 1e-7);
    CHECK_EQ(r.metadata().at("format"), std::string("pt"));
    // Opening the folder finds model.safetensors.
    SafetensorsReader rf = SafetensorsReader::open(d2m_test::shared_dir() + "/models/demo-llama-7m");
    CHECK_EQ(rf.names().size(), size_t(57));
}

TEST(sharded_index_round_trip) {
    const std::string dir = fresh_dir("sharded");
    at::Tensor a = at::arange(8, at::kFloat).view({2, 4});    // [2, 4]
    at::Tensor b = at::ones({3}, at::kBFloat16) * 2;          // [3]
    at::Tensor c = at::arange(5, at::kLong);                  // [5]
    save_safetensors(dir + "/model-00001-of-00002.safetensors", {{"w.a", a}, {"w.b", b}});
    save_safetensors(dir + "/model-00002-of-00002.safetensors", {{"w.c", c}}, {{"format", "pt"}});
    write_file_atomic(dir + "/model.safetensors.index.json",
                      R"({"metadata": {"total_size": 78},
                          "weight_map": {"w.a": "model-00001-of-00002.safetensors",
                                         "w.b": "model-00001-of-00002.safetensors",
                                         "w.c": "model-00002-of-00002.safetensors"}})");
    for (const std::string& p : {dir, dir + "/model.safetensors.index.json"}) {
        SafetensorsReader r = SafetensorsReader::open(p);
        CHECK(r.names() == std::vector<std::string>({"w.a", "w.b", "w.c"}));
        CHECK(at::equal(r.get("w.a"), a));
        CHECK(at::equal(r.get("w.b"), b));
        CHECK(at::equal(r.get("w.c"), c));
        CHECK_EQ(r.info("w.a").shard, 0);
        CHECK_EQ(r.info("w.c").shard, 1);
        CHECK_EQ(r.describe_source("w.c"), dir + "/model-00002-of-00002.safetensors");
        CHECK_EQ(r.describe_source("w.b"), dir + "/model-00001-of-00002.safetensors");
        CHECK_EQ(r.metadata().at("total_size"), std::string("78"));
        CHECK_EQ(r.metadata().at("format"), std::string("pt"));
    }

    // An index naming a shard that is not there, or a tensor the shard lacks.
    const std::string bad = fresh_dir("sharded_bad");
    save_safetensors(bad + "/s1.safetensors", {{"w.a", a}});
    write_file_atomic(bad + "/model.safetensors.index.json",
                      R"({"weight_map": {"w.a": "s1.safetensors", "w.b": "s2.safetensors"}})");
    CHECK_THROWS_WITH(SafetensorsReader::open(bad), "Shard " + bad + "/s2.safetensors listed in");
    write_file_atomic(bad + "/model.safetensors.index.json",
                      R"({"weight_map": {"w.a": "s1.safetensors", "w.z": "s1.safetensors"}})");
    CHECK_THROWS_WITH(SafetensorsReader::open(bad), "puts tensor w.z in s1.safetensors, but that shard does not hold it");
    write_file_atomic(bad + "/model.safetensors.index.json", R"({"weight_map": [}")");
    CHECK_THROWS_WITH(SafetensorsReader::open(bad), "is not valid JSON");
}

TEST(bad_headers_are_rejected_with_specific_messages) {
    const std::string dir = fresh_dir("bad");
    auto p = [&](const char* name) { return dir + "/" + name + ".safetensors"; };

    // Shorter than the 8-byte length prefix.
    write_bytes(p("tiny"), "abcd");
    CHECK_THROWS_WITH(SafetensorsReader::open(p("tiny")), "Safetensors file " + p("tiny") + " is 4 bytes long");

    // Header length beyond the end of the file.
    write_bytes(p("hdr_past_end"), u64_le(1000) + "{\"a\":1}");
    CHECK_THROWS_WITH(SafetensorsReader::open(p("hdr_past_end")),
                      "Safetensors file " + p("hdr_past_end") + " declares a 1000-byte header, but only 7 bytes");
    CHECK_THROWS_WITH(SafetensorsReader::open(p("hdr_past_end")), "is the file truncated");

    // Header not JSON.
    write_bytes(p("not_json"), craft("{\"w\": {\"dtype\": \"F32\", ", 0));
    CHECK_THROWS_WITH(SafetensorsReader::open(p("not_json")),
                      "Safetensors header of " + p("not_json") + " is not valid JSON: ");
    CHECK_THROWS_WITH(SafetensorsReader::open(p("not_json")), "parse error");

    // Unknown dtype.
    write_bytes(p("dtype"), craft(R"({"w.fp8":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", 2));
    CHECK_THROWS_WITH(SafetensorsReader::open(p("dtype")),
                      "Tensor w.fp8 in " + p("dtype") + " has unknown dtype \"F8_E4M3\"");

    // begin > end.
    write_bytes(p("reversed"), craft(R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", 8));
    CHECK_THROWS_WITH(SafetensorsReader::open(p("reversed")),
                      "Tensor w in " + p("reversed") + " has data_offsets [8, 4] with begin > end");

    // Offsets past the end of the data section.
    write_bytes(p("past_end"), craft(R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8));
    CHECK_THROWS_WITH(SafetensorsReader::open(p("past_end")),
                      "Tensor w in " + p("past_end") +
                          " ends at byte 16 but the data section holds only 8 bytes; is the file truncated?");

    // Overlapping byte ranges name both tensors.
    write_bytes(p("overlap"),
                craft(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                      R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})", 24));
    CHECK_THROWS_WITH(SafetensorsReader::open(p("overlap")),
                      "Tensors a (bytes [0, 16)) and b (bytes [8, 24)) overlap in " + p("overlap"));
    // A range nested inside an earlier, longer one.
    write_bytes(p("nested"),
                craft(R"({"big":{"dtype":"F32","shape":[8],"data_offsets":[0,32]},)"
                      R"("mid":{"dtype":"F32","shape":[1],"data_offsets":[16,20]},)"
                      R"("tail":{"dtype":"F32","shape":[1],"data_offsets":[24,28]}})", 32));
    CHECK_THROWS_WITH(SafetensorsReader::open(p("nested")), "Tensors big (bytes [0, 32)) and mid");

    // shape x dtype size != byte length: expected vs found.
    write_bytes(p("size"), craft(R"({"w.q":{"dtype":"BF16","shape":[3,2],"data_offsets":[0,16]}})", 16));
    CHECK_THROWS_WITH(SafetensorsReader::open(p("size")),
                      "Tensor w.q in " + p("size") + ": shape [3, 2] x BF16 needs 12 bytes, but data_offsets "
                      "[0, 16] hold 16 bytes (expected 12, found 16)");

    // Malformed entries.
    write_bytes(p("no_shape"), craft(R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", 4));
    CHECK_THROWS_WITH(SafetensorsReader::open(p("no_shape")), "Tensor w in " + p("no_shape") + ": \"shape\" is missing");
    write_bytes(p("array"), craft("[1, 2]", 0));
    CHECK_THROWS_WITH(SafetensorsReader::open(p("array")), "is not a JSON object");

    // A real file cut short: the last tensor's offsets now run past the end.
    const std::string good = dir + "/good.safetensors";
    save_safetensors(good, {{"a", at::zeros({64}, at::kFloat)}, {"b", at::zeros({64}, at::kFloat)}});
    std::string bytes = read_bytes(good);
    write_bytes(p("cut"), bytes.substr(0, bytes.size() - 100));
    CHECK_THROWS_WITH(SafetensorsReader::open(p("cut")),
                      "Tensor b in " + p("cut") + " ends at byte 512 but the data section holds only 412 bytes");
    write_bytes(p("cut_header"), bytes.substr(0, 20));
    CHECK_THROWS_WITH(SafetensorsReader::open(p("cut_header")), "-byte header, but only 12 bytes follow");

    // Missing file / folder without weights.
    CHECK_THROWS_WITH(SafetensorsReader::open(dir + "/absent.safetensors"),
                      "cannot open safetensors file " + dir + "/absent.safetensors");
    const std::string empty_dir = fresh_dir("no_weights");
    CHECK_THROWS_WITH(SafetensorsReader::open(empty_dir),
                      "Folder " + empty_dir + " holds neither model.safetensors nor model.safetensors.index.json");
}

TEST(write_file_atomic_replaces_contents) {
    const std::string dir = fresh_dir("atomic");
    const std::string path = dir + "/note.txt";
    write_file_atomic(path, "first version, longer than the second\n");
    write_file_atomic(path, "second\n");
    CHECK_EQ(read_bytes(path), std::string("second\n"));
    write_file_atomic(path, "");
    CHECK_EQ(read_bytes(path), std::string(""));
    CHECK_EQ(count_tmp_files(dir), 0);
    CHECK_THROWS_WITH(write_file_atomic(dir + "/no/such/dir/x.txt", "x"),
                      "cannot create a temporary file beside " + dir + "/no/such/dir/x.txt");
    CHECK_THROWS_WITH(save_safetensors(dir + "/bad.safetensors", {{"c", at::zeros({2}, at::kComplexFloat)}}),
                      "cannot save tensor c to " + dir + "/bad.safetensors: dtype");
    CHECK_THROWS_WITH(save_safetensors(dir + "/dup.safetensors", {{"x", at::zeros({1})}, {"x", at::ones({1})}}),
                      "tensor x is listed twice");
    CHECK_EQ(count_tmp_files(dir), 0);
}

D2M_TEST_MAIN()
