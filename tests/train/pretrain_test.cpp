// `cai pretrain` on a tiny corpus: the loss falls, the result is a loadable model directory,
// the same seed gives the same weights, a finished directory is reused, and the CLI works.
#include <gtest/gtest.h>

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/model/llama.h"
#include "cai/model/loader.h"
#include "cai/train/pretrain.h"

namespace {

namespace fs = std::filesystem;

fs::path tmp(const std::string& name) {
  auto d = fs::path(CAI_TEST_TMPDIR) / "pretrain" / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

fs::path tiny_corpus() {
  auto dir = fs::path(CAI_TEST_TMPDIR) / "pretrain";
  fs::create_directories(dir);
  std::string text;
  const char* names[] = {"flu shot", "blood test", "x-ray", "crutches"};
  const char* days[] = {"Mondays", "Tuesdays", "Fridays", "Sundays"};
  for (int rep = 0; rep < 30; ++rep)
    for (int i = 0; i < 4; ++i)
      text += std::string("Human: When is the ") + names[i] + " offered?\n\nAssistant: The " +
              names[i] + " is offered on " + days[i] + ".\n<|endoftext|>\n";
  cai::write_file_atomic(dir / "corpus.txt", text);
  return dir / "corpus.txt";
}

cai::train::PretrainOptions tiny_options(const fs::path& out) {
  cai::train::PretrainOptions o;
  o.corpus = {tiny_corpus()};
  o.out_dir = out;
  o.vocab_size = 300;
  o.hidden = 32;
  o.layers = 2;
  o.heads = 2;
  o.ffn = 64;
  o.context = 64;
  o.seq_len = 32;
  o.train.token_budget = 4 * 33;
  o.train.lr = 5e-3;
  o.train.epochs = 3;
  o.train.save_every = 5;
  o.train.log_every = 1;
  o.threads = 1;
  return o;
}

TEST(Pretrain, TrainsReproduciblyAndIsReused) {
  auto a = tmp("a"), b = tmp("b");
  auto ra = cai::train::pretrain(tiny_options(a));
  auto rb = cai::train::pretrain(tiny_options(b));
  EXPECT_GT(ra["steps"].get<long long>(), 10);
  // The loss fell well below the uniform loss ln(vocab) on this repetitive corpus.
  EXPECT_LT(ra["final_train"]["loss"].get<double>(), 0.5 * std::log(300.0));
  auto ma = cai::load_model(a), mb = cai::load_model(b);
  ASSERT_TRUE(ma.tokenizer.has_value());
  EXPECT_EQ(ma.tokenizer->bos_id(), ma.tokenizer->token_to_id("<|endoftext|>"));
  auto pa = ma.model->hf_parameters(), pb = mb.model->hf_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i)
    EXPECT_TRUE(torch::equal(pa[i].second, pb[i].second)) << pa[i].first;

  // A finished directory with the same options is reused, not retrained.
  const auto stamp = fs::last_write_time(a / "model.safetensors");
  auto again = cai::train::pretrain(tiny_options(a));
  EXPECT_EQ(again["key"], ra["key"]);
  EXPECT_EQ(fs::last_write_time(a / "model.safetensors"), stamp);
}

TEST(Pretrain, BadOptions) {
  auto o = tiny_options(tmp("bad"));
  o.heads = 3;  // 32 is not a multiple of 3
  EXPECT_THROW(o.validate(), cai::Error);
  o = tiny_options(tmp("bad"));
  o.corpus = {"/nonexistent/corpus.txt"};
  EXPECT_THROW(cai::train::pretrain(o), cai::Error);
  o = tiny_options(tmp("bad"));
  o.seq_len = 64;  // not below the context
  EXPECT_THROW(o.validate(), cai::Error);
}

TEST(Pretrain, Cli) {
  auto out = tmp("cli");
  const std::string cmd = std::string(CAI_BINARY) + " pretrain --corpus " + tiny_corpus().string() +
                          " --out " + out.string() +
                          " --vocab 300 --hidden 32 --layers 2 --heads 2 --ffn 64 --context 64"
                          " --seq-len 32 --batch 4 --max-steps 6 --threads 1 > " +
                          (out / "stdout.txt").string() + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cai::read_file(out / "stdout.txt");
  const std::string text = cai::read_file(out / "stdout.txt");
  EXPECT_NE(text.find("parameters"), std::string::npos) << text;
  EXPECT_TRUE(fs::exists(out / "pretrain.json"));
  EXPECT_TRUE(fs::exists(out / "training" / "metrics.jsonl"));
  EXPECT_NO_THROW(cai::load_model(out));
  const std::string bad =
      std::string(CAI_BINARY) + " pretrain --out " + out.string() + " > /dev/null 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);  // no corpus given
}

}  // namespace
