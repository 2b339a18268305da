// The report page: sections in reading order, a table of contents, inline CSS, and one small
// inline script. The plots are static SVG and need no script; the script only records on each
// plot the size of what the browser drew (data-rendered="WxH", data-marks=N), which lets a
// headless-browser test check that every plot rendered.
#include "cai/report/report.h"

#include <fmt/format.h>

#include "cai/io/error.h"
#include "cai/io/file.h"
#include "cai/report/html.h"
#include "run_data.h"
#include "sections.h"

namespace cai::report {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStyle = R"css(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#222;
  max-width:1120px;margin:0 auto;padding:12px 24px 48px}
h1{font-size:24px;margin:12px 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:16px;margin:20px 0 6px}h4{margin:4px 0}
nav{font-size:13px;margin:6px 0 12px}nav a{margin-right:14px;color:#0b5cad;text-decoration:none}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f6f6;font-weight:600}table.kv th{width:150px}
tr.best td{background:#eef7ee}td.hash{font-family:monospace;font-size:12px}
td.regression{color:#c0392b}td.improvement{color:#1e8449}
.na{color:#777;font-style:italic}
details{margin:6px 0}summary{cursor:pointer;color:#0b5cad}
pre.text{white-space:pre-wrap;word-wrap:break-word;background:#f8f8f8;border:1px solid #eee;padding:6px 8px;
  margin:2px 0 8px;font:13px/1.4 ui-monospace,Menlo,Consolas,monospace}
pre.prompt{background:#eef3fb}
.lbl{margin:6px 0 0;font-size:12px;color:#555;font-weight:600}
.ex{border:1px solid #ddd;border-radius:6px;padding:8px 12px;margin:10px 0}
.trail li{margin-bottom:6px}.pair{display:grid;grid-template-columns:1fr 1fr;gap:12px}
.verdict{font-size:13px;margin:2px 0 8px}.pass{color:#1e8449}.fail{color:#c0392b}
svg.plot{display:block;margin:10px 0 16px;background:#fff}
.plots{display:flex;flex-wrap:wrap;column-gap:24px;align-items:flex-start}
svg.plot text{font:11px system-ui,sans-serif;fill:#333}
svg.plot .ptitle{font-size:13px;font-weight:600}svg.plot .alabel{font-size:12px;fill:#555}
svg.plot .grid{stroke:#ececec}svg.plot .axis{stroke:#999}
svg.plot .barval{font-size:11px;font-weight:600}
)css";

// Records on each plot the bounding box of its marks as the browser laid them out.
constexpr const char* kScript = R"js(
(function(){
  function measure(){
    document.querySelectorAll('svg.plot').forEach(function(svg){
      var x0=Infinity,y0=Infinity,x1=-Infinity,y1=-Infinity,n=0;
      svg.querySelectorAll('.mark').forEach(function(m){
        var b=m.getBBox();
        if(b.width>0||b.height>0){n++;x0=Math.min(x0,b.x);y0=Math.min(y0,b.y);
          x1=Math.max(x1,b.x+b.width);y1=Math.max(y1,b.y+b.height);}
      });
      svg.setAttribute('data-marks',String(n));
      svg.setAttribute('data-rendered',n?Math.round(x1-x0)+'x'+Math.round(y1-y0):'0x0');
    });
  }
  if(document.readyState==='loading')document.addEventListener('DOMContentLoaded',measure);else measure();
})();
)js";

std::string default_title(const RunData& run) {
  std::string name = run.manifest ? run.manifest->name : "";
  if (name.empty()) {
    fs::path p = fs::absolute(run.dir).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();  // "runs/x/"
    name = p.filename().string();
  }
  if (name.empty()) name = run.dir.string();
  return "cai run " + name;
}

}  // namespace

void ReportOptions::validate() const {
  CAI_CHECK(!run_dir.empty(), "report: run_dir is required");
  CAI_CHECK(examples >= 0, "report: examples must be >= 0, got {}", examples);
}

std::string render_report(const ReportOptions& opts) {
  opts.validate();
  const RunData run = load_run(opts.run_dir);
  const std::string title = opts.title.empty() ? default_title(run) : opts.title;
  // In reading order; further sections join this list.
  const std::vector<Section> sections = {
      summary_section(run), training_section(run),  oracle_section(run),
      judge_section(run),   behaviour_section(run), tax_section(run),
      probe_section(run),   labels_section(run),    examples_section(run, opts.examples)};
  std::string page =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
      escape_html(title) + "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  page += "<h1>" + escape_html(title) + "</h1>\n<nav>";
  for (const auto& s : sections)
    page += fmt::format("<a href=\"#{}\">{}</a>", s.id, escape_html(s.title));
  page += "</nav>\n";
  for (const auto& s : sections)
    page += fmt::format("<section id=\"{}\">\n<h2>{}</h2>\n{}</section>\n", s.id,
                        escape_html(s.title), s.html);
  page += "<script>" + std::string(kScript) + "</script>\n</body>\n</html>\n";
  return page;
}

fs::path write_report(const ReportOptions& opts) {
  opts.validate();
  const fs::path out = opts.out.empty() ? opts.run_dir / "report.html" : opts.out;
  const std::string page = render_report(opts);
  if (out.has_parent_path()) fs::create_directories(out.parent_path());
  write_file_atomic(out, page);
  return out;
}

}  // namespace cai::report
