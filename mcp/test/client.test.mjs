// Drives strata's MCP server as an agent's client would: the official SDK's Client over stdio, against a
// database test/cluster/t25_mcp.sh prepared (events with an hourly rollup; the role has strata.max_raw_rows).
// Prints "ok - ..." / "not ok - ..." lines; exits 1 when any check fails.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { fileURLToPath } from "node:url";

const server = fileURLToPath(new URL("../bin/strata-mcp.js", import.meta.url));
let failed = 0;
function check(desc, cond, extra) {
  console.log(`${cond ? "ok" : "not ok"} - ${desc}`);
  if (!cond) {
    failed++;
    if (extra !== undefined) console.log(`# ${JSON.stringify(extra).slice(0, 600)}`);
  }
}
const text = (r) => (r.content ?? []).map((c) => c.text).join("\n");

const transport = new StdioClientTransport({ command: process.execPath, args: [server], env: process.env, stderr: "inherit" });
const client = new Client({ name: "strata-test", version: "1.0.0" });
await client.connect(transport);

const { tools } = await client.listTools();
const names = tools.map((t) => t.name).sort();
check("tools/list: the five tools", JSON.stringify(names) ===
  JSON.stringify(["describe_metric", "explain_question", "list_metrics", "query_metrics", "run_sql"]), names);
check("every tool is marked read-only", tools.every((t) => t.annotations?.readOnlyHint === true));

let r = await client.callTool({ name: "list_metrics", arguments: {} });
const metrics = r.structuredContent?.metrics ?? [];
check("list_metrics: the rollup's measures", metrics.some((m) => m.metric === "views" && m.raw_expression === "count(*)"), r);

r = await client.callTool({ name: "describe_metric", arguments: { metric: "views" } });
check("describe_metric: its dimensions", (r.structuredContent?.dimensions ?? []).some((d) => d.dimension === "channel"), r);

r = await client.callTool({
  name: "query_metrics",
  arguments: { metrics: ["views", "watch"], by: ["channel"], filters: { channel: { in: [1, 2, 3] } },
               time_from: "2026-01-02T00:00:00Z", time_to: "2026-01-05T00:00:00Z", grain: "day" },
});
const a = r.structuredContent ?? {};
const total = (a.rows ?? []).reduce((s, row) => s + Number(row.views), 0);
check("query_metrics: the rows", !r.isError && a.row_count === 9, r);
check("query_metrics: the same total as the raw table", String(total) === process.env.WANT_VIEWS, { total, want: process.env.WANT_VIEWS });
check("query_metrics: answered from the rollup, exact", /(^|\.)hourly$/.test(a.provenance?.answered_by ?? "") && a.provenance?.exact === true, a.provenance);
check("query_metrics: values sent as parameters", !String(a.provenance?.sql).includes("'2026-01-02") && (a.provenance?.parameters ?? []).length === 3, a.provenance);

r = await client.callTool({ name: "query_metrics", arguments: { metrics: ["nope"] } });
check("query_metrics: an unknown metric is refused, naming the valid ones", r.isError && /unknown metric/.test(text(r)) && /views/.test(text(r)), text(r));

r = await client.callTool({ name: "explain_question", arguments: { sql: "SELECT channel, count(*) FROM events GROUP BY 1" } });
check("explain_question: the candidates", (r.structuredContent?.candidates ?? []).some((c) => /(^|\.)hourly$/.test(c.rollup) && c.decision === "chosen"), r);

r = await client.callTool({ name: "run_sql", arguments: { sql: "SELECT 1 AS x, 'a' AS y" } });
check("run_sql: a query", !r.isError && JSON.stringify(r.structuredContent?.rows) === '[[1,"a"]]', r);

r = await client.callTool({ name: "run_sql", arguments: { sql: "SELECT 1; DROP TABLE events" } });
check("run_sql: two statements refused", r.isError === true, text(r));
r = await client.callTool({ name: "run_sql", arguments: { sql: "COMMIT; DROP TABLE events" } });
check("run_sql: COMMIT; ... refused", r.isError === true, text(r));
r = await client.callTool({ name: "run_sql", arguments: { sql: "SELECT 1) AS x; COMMIT; DROP TABLE events; SELECT (1" } });
check("run_sql: an injection around the cursor refused", r.isError === true, text(r));
r = await client.callTool({ name: "run_sql", arguments: { sql: "WITH d AS (DELETE FROM events RETURNING 1) SELECT count(*) FROM d" } });
check("run_sql: a writing query refused (read-only)", r.isError === true, text(r));

r = await client.callTool({ name: "run_sql", arguments: { sql: "SELECT g, repeat('x', 100) FROM generate_series(1, 200000) g", max_rows: 50 } });
check("run_sql: a huge result truncated", !r.isError && r.structuredContent?.row_count === 50 && r.structuredContent?.truncated === true, r.structuredContent && { n: r.structuredContent.row_count, t: r.structuredContent.truncated });

r = await client.callTool({ name: "run_sql", arguments: { sql: "SELECT channel, watch_ms FROM events ORDER BY watch_ms DESC LIMIT 5" } });
check("run_sql: a brute-force scan refused by strata.max_raw_rows, with the rollup in the hint", r.isError && /54000/.test(text(r)) && /hourly/.test(text(r)), text(r));

r = await client.callTool({ name: "run_sql", arguments: { sql: "SELECT channel, count(*) AS views FROM events WHERE ts >= '2026-01-02' GROUP BY 1 ORDER BY 1 LIMIT 3" } });
check("run_sql: an aggregate a rollup answers passes the guardrail", !r.isError && r.structuredContent?.row_count === 3, text(r));

await client.close();

// The same server over streamable HTTP on the loopback address (--http=PORT): a client of the SDK lists
// the tools and asks a question; a request naming another host is refused (DNS rebinding).
const port = Number(process.env.MCP_HTTP_PORT || 0);
if (port) {
  const { spawn } = await import("node:child_process");
  const { request } = await import("node:http");
  const { StreamableHTTPClientTransport } = await import("@modelcontextprotocol/sdk/client/streamableHttp.js");
  const proc = spawn(process.execPath, [server, `--http=${port}`], { env: process.env, stdio: ["ignore", "ignore", "pipe"] });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the HTTP server did not start")), 20000);
    proc.stderr.on("data", (d) => { if (/listening/.test(String(d))) { clearTimeout(timer); resolve(); } });
    proc.on("exit", (code) => reject(new Error(`the HTTP server exited (${code})`)));
  });
  const http = new Client({ name: "strata-test-http", version: "1.0.0" });
  await http.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
  const listed = await http.listTools();
  check("HTTP: tools/list", listed.tools.length === 5, listed.tools.map((t) => t.name));
  r = await http.callTool({ name: "query_metrics", arguments: { metrics: ["views"], by: ["channel"], filters: { channel: 1 } } });
  check("HTTP: query_metrics answers", !r.isError && r.structuredContent?.row_count === 1, r);
  await http.close();
  const status = await new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: "/mcp", method: "POST",
                          headers: { host: `evil.example:${port}`, "content-type": "application/json", accept: "application/json, text/event-stream" } },
                        (res) => { res.resume(); resolve(res.statusCode); });
    req.on("error", () => resolve(0));
    req.end(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: {} }));
  });
  check("HTTP: a request naming another host is refused", status === 403, status);
  proc.kill("SIGTERM");
}
process.exit(failed ? 1 : 0);
