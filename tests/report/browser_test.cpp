// Opens the report of a synthetic run in headless Chromium: the screenshot must be a real
// image, and after the page's script ran every plot must have drawn marks of non-zero size
// (data-rendered="WxH" set from the browser's own layout). Skipped only when Chromium is missing
// and CAI_REQUIRE_BROWSER is unset; the test script installs it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include <unistd.h>

#include "cai/io/file.h"
#include "cai/report/report.h"
#include "run_fixture.h"

namespace {

namespace fs = std::filesystem;

// The first of `names` found on PATH, or "".
std::string find_on_path(std::initializer_list<const char*> names) {
  const char* path = std::getenv("PATH");
  if (!path) return "";
  for (const char* name : names) {
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      const fs::path p = fs::path(dir.empty() ? "." : dir) / name;
      std::error_code ec;
      if (fs::is_regular_file(p, ec) && access(p.c_str(), X_OK) == 0) return p.string();
    }
  }
  return "";
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Big-endian 32-bit integer at `at`.
std::uint32_t be32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + i]);
  return v;
}

TEST(Browser, ReportRendersEveryPlotInHeadlessChromium) {
  const std::string chromium = find_on_path({"chromium", "chromium-browser"});
  if (chromium.empty()) {
    if (std::getenv("CAI_REQUIRE_BROWSER"))
      FAIL() << "CAI_REQUIRE_BROWSER is set but chromium is not on PATH";
    GTEST_SKIP() << "chromium not found on PATH (install Debian's `chromium` package, or set "
                    "CAI_REQUIRE_BROWSER=1 to make this a failure)";
  }
  const fs::path dir = report_test::make_run("browser");
  cai::report::ReportOptions o;
  o.run_dir = dir;
  const fs::path html = fs::absolute(cai::report::write_report(o));
  const fs::path png = dir / "shot.png", dom = dir / "dom.html", log = dir / "chromium.log";
  // A fresh profile per run: parallel test runs must not share Chromium's profile lock.
  const std::string common = quote(chromium) +
                             " --headless --no-sandbox --disable-gpu --no-first-run" +
                             " --user-data-dir=" + quote((dir / "profile").string());
  // `timeout` keeps a wedged browser from hanging the suite.
  const std::string shot = "timeout 120 " + common + " --screenshot=" + quote(png.string()) +
                           " --window-size=1200,3000 " + quote(html.string()) + " >" +
                           quote(log.string()) + " 2>&1";
  const std::string dump = "timeout 120 " + common + " --dump-dom " + quote(html.string()) + " >" +
                           quote(dom.string()) + " 2>>" + quote(log.string());
  const auto t0 = std::chrono::steady_clock::now();
  const int shot_rc = std::system(shot.c_str());
  const int dump_rc = std::system(dump.c_str());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("chromium: screenshot + dump-dom took %.1f s\n", seconds);
  const std::string chromium_log = fs::exists(log) ? cai::read_file(log) : "";
  ASSERT_EQ(shot_rc, 0) << chromium_log;
  ASSERT_EQ(dump_rc, 0) << chromium_log;

  // The screenshot: a PNG of the window's size, with real content (a blank page of this size
  // compresses to a few kilobytes).
  ASSERT_TRUE(fs::exists(png)) << chromium_log;
  const std::string img = cai::read_file(png);
  ASSERT_GT(img.size(), 24u);
  EXPECT_EQ(img.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(be32(img, 16), 1200u);
  EXPECT_EQ(be32(img, 20), 3000u);
  EXPECT_GT(img.size(), 40000u) << "the screenshot looks blank";

  // The DOM after the script ran: every plot measured with marks of non-zero size.
  const std::string d = cai::read_file(dom);
  std::map<std::string, std::string> rendered, marks;
  const std::regex svg_tag("<svg[^>]*class=\"plot\"[^>]*>");
  const std::regex attr_plot("data-plot=\"([^\"]*)\""), attr_size("data-rendered=\"([^\"]*)\""),
      attr_marks("data-marks=\"([^\"]*)\"");
  for (std::sregex_iterator it(d.begin(), d.end(), svg_tag), end; it != end; ++it) {
    const std::string tag = it->str();
    std::smatch m;
    ASSERT_TRUE(std::regex_search(tag, m, attr_plot)) << tag;
    const std::string name = m[1];
    rendered[name] = std::regex_search(tag, m, attr_size) ? m[1].str() : "(not measured)";
    marks[name] = std::regex_search(tag, m, attr_marks) ? m[1].str() : "0";
  }
  EXPECT_EQ(rendered.size(), report_test::kPlots.size());
  for (const auto& name : report_test::kPlots) {
    ASSERT_TRUE(rendered.count(name)) << name << " missing from the rendered DOM";
    int w = 0, h = 0;
    EXPECT_EQ(std::sscanf(rendered[name].c_str(), "%dx%d", &w, &h), 2)
        << name << ": " << rendered[name];
    EXPECT_GT(w, 0) << name << ": " << rendered[name];
    EXPECT_GT(h, 0) << name << ": " << rendered[name];
    EXPECT_GT(std::atoi(marks[name].c_str()), 0) << name;
  }
}

}  // namespace
