// A cai::serve::Server over the fixture model on an ephemeral port of 127.0.0.1, run on a
// thread of its own for the length of a test (or of a test program, held in a static).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "cai/model/loader.h"
#include "cai/serve/server.h"

namespace cai::testing_util {

struct InProcessServer {
  std::unique_ptr<cai::serve::Server> server;
  std::thread thread;
  int port = 0;

  // The fixture model is loaded once and shared by every server of the program.
  explicit InProcessServer(cai::serve::ServeOptions o) {
    static auto lm = std::make_shared<cai::LoadedModel>(
        cai::load_model(std::string(CAI_FIXTURES_DIR) + "/hf-model"));
    o.port = 0;
    server = std::make_unique<cai::serve::Server>(lm, o);
    port = server->bind();
    thread = std::thread([this] { server->run(); });
  }
  ~InProcessServer() {
    server->stop();
    thread.join();
  }
  InProcessServer(const InProcessServer&) = delete;
  InProcessServer& operator=(const InProcessServer&) = delete;
};

}  // namespace cai::testing_util
