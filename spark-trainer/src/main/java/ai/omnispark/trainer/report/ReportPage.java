package ai.omnispark.trainer.report;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The HTML of a run report: one self-contained page, no network. Tables are written here; the
 * charts are SVG drawn in the browser by the page's inline script from the metrics embedded as
 * JSON, so the page stays small for long runs and needs no library.
 */
final class ReportPage {
    /** The charts: metrics.jsonl field and title. */
    static final List<String[]> CHARTS = List.of(
            new String[] {"loss", "Loss"},
            new String[] {"lr", "Learning rate"},
            new String[] {"grad_norm", "Gradient norm (before clipping)"},
            new String[] {"tokens_per_s", "Tokens per second"},
            new String[] {"data_wait_ms", "Data wait per step (ms)"});

    private ReportPage() {}

    static String html(RunReport r) {
        StringBuilder b = new StringBuilder(16384);
        String title = "OmniSpark run " + r.runDir.getName();
        b.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>")
                .append(esc(title)).append("</title>\n<style>").append(CSS).append("</style></head>\n<body>\n");
        b.append("<h1>").append(esc(title)).append("</h1>\n<p class=\"path\">").append(esc(r.runDir.toString()))
                .append("</p>\n");
        summary(b, r);
        b.append("<h2>Training curves</h2>\n<div class=\"charts\">\n");
        for (String[] c : CHARTS) {
            b.append("<figure class=\"chart\" data-series=\"").append(c[0]).append("\"><figcaption>").append(esc(c[1]))
                    .append("</figcaption></figure>\n");
        }
        b.append("</div>\n");
        restarts(b, r);
        checkpoints(b, r);
        media(b, r);
        config(b, r);
        String data = "{\"metrics\":" + r.metrics + "}";
        // A JSON string may hold "</script>": escape every "</" so the data block cannot end early.
        b.append("<script type=\"application/json\" id=\"report-data\">").append(data.replace("</", "<\\/"))
                .append("</script>\n<script>").append(SCRIPT).append("</script>\n</body></html>\n");
        return b.toString();
    }

    private static void summary(StringBuilder b, RunReport r) {
        JsonNode s = r.run.path("summary");
        int restarts = r.run.path("restarts").size();
        b.append("<table class=\"summary\">\n");
        row(b, "status", r.run.path("status").asText("unknown (no run.json)"));
        row(b, "started", r.run.path("started_at").asText("-"));
        row(b, "ended", r.run.path("ended_at").asText("-"));
        row(b, "steps", String.valueOf(r.metrics.size() == 0 ? 0 : r.metrics.get(r.metrics.size() - 1).path("step").asLong()));
        if (r.metrics.size() > 0) {
            row(b, "loss", fmt(r.metrics.get(0).path("loss").asDouble()) + " → "
                    + fmt(r.metrics.get(r.metrics.size() - 1).path("loss").asDouble()));
        }
        if (s.isObject()) {
            row(b, "tokens/s", fmt(s.path("tokens_per_s").asDouble()));
            row(b, "data wait", fmt(100 * s.path("data_wait_fraction").asDouble()) + " % of step time");
            row(b, "HF folder", s.path("hf_dir").asText("none"));
        }
        row(b, "ranks", r.run.path("world_size").asText("-"));
        row(b, "restarts", String.valueOf(restarts));
        if (r.run.has("error")) {
            row(b, "error", r.run.get("error").asText());
        }
        b.append("</table>\n");
    }

    private static void restarts(StringBuilder b, RunReport r) {
        b.append("<h2>Restarts</h2>\n");
        JsonNode list = r.run.path("restarts");
        if (list.size() == 0) {
            b.append("<p>").append(r.run.isMissingNode() ? "Not recorded (no run.json)." : "None.").append("</p>\n");
            return;
        }
        b.append("<table><tr><th>restart</th><th>at</th><th>after</th></tr>\n");
        for (JsonNode x : list) {
            b.append("<tr><td>").append(x.path("attempt").asInt()).append("</td><td>").append(esc(x.path("at").asText()))
                    .append("</td><td>").append(esc(x.path("reason").asText())).append("</td></tr>\n");
        }
        b.append("</table>\n");
    }

    private static void checkpoints(StringBuilder b, RunReport r) {
        b.append("<h2>Checkpoints</h2>\n");
        if (r.checkpoints.isEmpty()) {
            b.append("<p>None under checkpoints/.</p>\n");
            return;
        }
        b.append("<table class=\"checkpoints\"><tr><th>step</th><th>size</th><th>written</th><th>hf_ckpt</th></tr>\n");
        for (RunReport.Checkpoint c : r.checkpoints) {
            b.append("<tr><td>global_step_").append(c.step()).append("</td><td>")
                    .append(String.format("%.2f MB", c.bytes() / 1e6)).append("</td><td>").append(c.modified())
                    .append("</td><td>").append(c.hasHf() ? "yes" : "no").append("</td></tr>\n");
        }
        b.append("</table>\n");
    }

    private static void media(StringBuilder b, RunReport r) {
        b.append("<h2>Sample inputs</h2>\n");
        if (r.media.samples().isEmpty()) {
            b.append("<p class=\"media-note\">Images and videos: ").append(esc(r.media.note())).append(".</p>\n");
            return;
        }
        b.append("<div class=\"samples\">\n");
        for (MediaSamples.Sample s : r.media.samples()) {
            b.append("<figure class=\"sample\"><img alt=\"").append(esc(s.kind())).append(' ').append(esc(s.source()))
                    .append("\" src=\"").append(s.dataUri()).append("\"><figcaption><b>").append(esc(s.kind()))
                    .append("</b> ").append(esc(s.source())).append("<br>").append(esc(s.caption()))
                    .append("</figcaption></figure>\n");
        }
        b.append("</div>\n");
    }

    private static void config(StringBuilder b, RunReport r) {
        b.append("<h2>Configuration</h2>\n");
        JsonNode c = r.run.path("config");
        if (!c.isObject()) {
            b.append("<p>Not recorded (no run.json).</p>\n");
            return;
        }
        b.append("<p>From ").append(esc(r.run.path("config_source").asText("?"))).append(", with every default.</p>\n");
        b.append("<table class=\"config\">\n");
        for (Iterator<Map.Entry<String, JsonNode>> it = c.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            row(b, e.getKey(), e.getValue().isTextual() ? e.getValue().asText() : e.getValue().toString());
        }
        b.append("</table>\n");
    }

    private static void row(StringBuilder b, String key, String value) {
        b.append("<tr><th>").append(esc(key)).append("</th><td>").append(esc(value)).append("</td></tr>\n");
    }

    static String fmt(double v) {
        if (v == 0 || Double.isNaN(v)) {
            return String.valueOf(v == 0 ? 0 : v);
        }
        double a = Math.abs(v);
        return a >= 1e5 || a < 1e-3 ? String.format("%.3e", v) : String.format("%.4g", v);
    }

    static String esc(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '<' -> b.append("&lt;");
                case '>' -> b.append("&gt;");
                case '&' -> b.append("&amp;");
                case '"' -> b.append("&quot;");
                case '\'' -> b.append("&#39;");
                default -> b.append(ch);
            }
        }
        return b.toString();
    }

    private static final String CSS = """
            body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1180px}
            h1{font-size:22px;margin:0}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
            .path{color:#666;margin:2px 0 12px}table{border-collapse:collapse}
            th,td{text-align:left;padding:2px 10px 2px 0;vertical-align:top;white-space:pre-wrap}th{font-weight:600;color:#444}
            .config td,.config th{font-family:ui-monospace,monospace;font-size:12px}
            .charts{display:flex;flex-wrap:wrap;gap:12px}.chart{margin:0;border:1px solid #e2e2e2;padding:6px}
            .chart figcaption{font-weight:600;margin-bottom:2px}.plot .line{fill:none;stroke:#1f6fd1;stroke-width:1.6}
            .plot .axis{stroke:#888}.plot .grid{stroke:#eee}.plot text{font-size:11px;fill:#555}
            .samples{display:flex;gap:12px;flex-wrap:wrap}.sample{margin:0;width:170px;font-size:12px}
            .sample img{border:1px solid #ccc;max-width:160px}
            """;

    /** Draws each figure[data-series] as an SVG line chart of that metrics field against the step. */
    private static final String SCRIPT = """
            (function () {
              "use strict";
              var data = JSON.parse(document.getElementById("report-data").textContent);
              var NS = "http://www.w3.org/2000/svg";
              function el(tag, attrs, parent) {
                var e = document.createElementNS(NS, tag);
                Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
                if (parent) { parent.appendChild(e); }
                return e;
              }
              function fmt(v) {
                if (v === 0) { return "0"; }
                var a = Math.abs(v);
                return (a >= 1e5 || a < 1e-3) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
              }
              function label(svg, x, y, text, anchor) {
                el("text", {x: x, y: y, "text-anchor": anchor}, svg).textContent = text;
              }
              function chart(fig) {
                var key = fig.getAttribute("data-series");
                var pts = data.metrics.filter(function (m) {
                  return typeof m[key] === "number" && isFinite(m[key]);
                }).map(function (m) { return [m.step, m[key]]; });
                var W = 540, H = 220, L = 62, R = 14, T = 10, B = 32;
                var svg = el("svg", {viewBox: "0 0 " + W + " " + H, width: W, height: H, "class": "plot",
                  "data-series": key, "data-points": pts.length}, fig);
                if (pts.length === 0) { label(svg, W / 2, H / 2, "no data", "middle"); return; }
                var xs = pts.map(function (p) { return p[0]; }), ys = pts.map(function (p) { return p[1]; });
                var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
                var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
                if (x1 === x0) { x0 -= 1; x1 += 1; }
                if (y1 === y0) { var pad = Math.abs(y0) * 0.1 || 1; y0 -= pad; y1 += pad; }
                function sx(x) { return L + (x - x0) / (x1 - x0) * (W - L - R); }
                function sy(y) { return T + (y1 - y) / (y1 - y0) * (H - T - B); }
                for (var i = 0; i <= 4; i++) {
                  var v = y0 + (y1 - y0) * i / 4, y = sy(v);
                  el("line", {x1: L, x2: W - R, y1: y, y2: y, "class": "grid"}, svg);
                  label(svg, L - 6, y + 4, fmt(v), "end");
                }
                [x0, Math.round((x0 + x1) / 2), x1].forEach(function (x) {
                  label(svg, sx(x), H - B + 16, String(x), "middle");
                });
                label(svg, (L + W - R) / 2, H - 3, "step", "middle");
                el("line", {x1: L, x2: L, y1: T, y2: H - B, "class": "axis"}, svg);
                el("line", {x1: L, x2: W - R, y1: H - B, y2: H - B, "class": "axis"}, svg);
                el("polyline", {"class": "line", points: pts.map(function (p) {
                  return sx(p[0]).toFixed(1) + "," + sy(p[1]).toFixed(1);
                }).join(" ")}, svg);
                if (pts.length === 1) { el("circle", {cx: sx(pts[0][0]), cy: sy(pts[0][1]), r: 3}, svg); }
              }
              Array.prototype.forEach.call(document.querySelectorAll("figure[data-series]"), chart);
              document.body.setAttribute("data-rendered", "charts");
            })();
            """;
}
