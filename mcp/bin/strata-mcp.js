#!/usr/bin/env node
// strata's MCP server: a thin layer over strata's SQL (src/agents/README.md). Every tool is one call of
// the extension's SQL or a guarded read-only statement; all logic stays in the extension. Speaks MCP over
// stdio through the official SDK, or with --http=PORT over streamable HTTP on 127.0.0.1 (stateless: one
// MCP server per request, all sharing the one database connection). Connects with libpq's environment
// (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD) or a connection string argument, as the role it is
// given: it never elevates.
import { createServer } from "node:http";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import pg from "pg";
import { z } from "zod";

const args = process.argv.slice(2);
const httpArg = args.find((a) => a.startsWith("--http="));
const httpPort = httpArg ? Number(httpArg.slice("--http=".length)) : undefined;
if (httpArg && !(Number.isInteger(httpPort) && httpPort > 0 && httpPort < 65536)) {
  console.error(`strata-mcp: --http needs a port number, not "${httpArg.slice(7)}"`);
  process.exit(2);
}
const connectionString = args.find((a) => !a.startsWith("--"));
const MAX_ROWS = Number(process.env.STRATA_MCP_MAX_ROWS || 1000);
const MAX_BYTES = Number(process.env.STRATA_MCP_MAX_BYTES || 1 << 20);
const TIMEOUT_MS = Number(process.env.STRATA_MCP_STATEMENT_TIMEOUT_MS || 30000);

const client = new pg.Client(connectionString ? { connectionString } : {});
await client.connect();
// Numbers as JSON numbers where they fit, timestamps as text (as Postgres prints them).
for (const oid of [20, 1700]) pg.types.setTypeParser(oid, (v) => (Math.abs(Number(v)) < 2 ** 53 ? Number(v) : v));
for (const oid of [1082, 1114, 1184]) pg.types.setTypeParser(oid, (v) => v);

// One tool call at a time on the one connection (the SDK may dispatch calls concurrently).
let queue = Promise.resolve();
function serialized(fn) {
  const run = queue.then(fn, fn);
  queue = run.catch(() => {});
  return run;
}

function answer(structured, text) {
  return { content: [{ type: "text", text: text ?? JSON.stringify(structured, null, 2) }], structuredContent: structured };
}
function refusal(err) {
  const parts = [err.message];
  if (err.code) parts.push(`SQLSTATE ${err.code}`);
  if (err.detail) parts.push(`DETAIL: ${err.detail}`);
  if (err.hint) parts.push(`HINT: ${err.hint}`);
  return { isError: true, content: [{ type: "text", text: parts.join("\n") }] };
}
let statements = 0;
let prepared = false;
// Runs `work(c)` in a READ ONLY transaction with a statement timeout, rolled back whatever happens; a
// statement run_sql prepared is deallocated after it (prepared statements outlive transactions).
async function readOnly(work) {
  return serialized(async () => {
    await client.query("BEGIN READ ONLY");
    try {
      await client.query("SELECT pg_catalog.set_config('statement_timeout', $1, true)", [String(TIMEOUT_MS)]);
      return await work(client);
    } finally {
      await client.query("ROLLBACK");
      if (prepared) {
        prepared = false;
        await client.query("DEALLOCATE ALL");
      }
    }
  });
}
async function tool(work) {
  try {
    return await readOnly(work);
  } catch (err) {
    return refusal(err);
  }
}

const readOnlyHint = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

// A server with strata's tools (one for stdio; one per request over HTTP).
function makeServer() {
const server = new McpServer({ name: "strata", version: "0.13.0" });
server.registerTool(
  "list_metrics",
  {
    title: "List metrics",
    description:
      "Every measure strata's rollups answer cheaply, as the aggregate on the raw table it equals, with its kind " +
      "(exact or approximate with a bound), dimensions, grain, covered time range and description. Ask only these " +
      "through query_metrics; other questions may be refused as brute-force scans.",
    inputSchema: { source: z.string().optional().describe("only the metrics of this table (e.g. public.events)") },
    annotations: readOnlyHint,
  },
  async ({ source }) =>
    tool(async (c) => {
      const r = await c.query(
        `SELECT rollup::text, metric::text, source::text, kind, raw_expression, description, unit, error_bound,
                dimensions, grain_width, covered_from, covered_to
           FROM strata.metrics WHERE $1::text IS NULL OR source = $1::text::regclass ORDER BY source::text, metric, rollup::text`,
        [source ?? null],
      );
      return answer({ metrics: r.rows });
    }),
);

server.registerTool(
  "describe_metric",
  {
    title: "Describe a metric",
    description: "One metric in full: the rollups that hold it, its dimensions with their types, distinct values and the table each joins to, and an example query.",
    inputSchema: { metric: z.string().describe("a metric name from list_metrics"), source: z.string().optional() },
    annotations: readOnlyHint,
  },
  async ({ metric, source }) =>
    tool(async (c) => {
      const m = await c.query(
        `SELECT * FROM strata.metrics WHERE metric = $1 AND ($2::text IS NULL OR source = $2::text::regclass) ORDER BY rollup::text`,
        [metric, source ?? null],
      );
      if (m.rows.length === 0) throw Object.assign(new Error(`unknown metric "${metric}"`), { hint: "list_metrics lists them." });
      const d = await c.query(
        `SELECT rollup::text, dimension, type, distinct_values_estimated, sample_values, joins_to::text, descriptive_columns
           FROM strata.dimensions WHERE rollup = ANY ($1::regclass[]) ORDER BY rollup::text, dimension`,
        [m.rows.map((r) => r.rollup)],
      );
      return answer({ metric: m.rows, dimensions: d.rows });
    }),
);

server.registerTool(
  "query_metrics",
  {
    title: "Ask a structured question",
    description:
      "Answers metrics by dimensions over a time range from the rollups (strata.query_metrics): every value is a " +
      "parameter; the answer says which rollup answered, whether it is exact, and error bounds.",
    inputSchema: {
      metrics: z.array(z.string()).min(1).describe("metric names; name@0.99 for a quantile"),
      by: z.array(z.string()).optional().describe("dimensions to group by"),
      filters: z.record(z.any()).optional().describe('{"dimension": value} or {"dimension": {"in": [..]}}; operators =, <>, <, <=, >, >=, in, not in, is null, is not null'),
      time_from: z.string().optional().describe("inclusive start, ISO 8601"),
      time_to: z.string().optional().describe("exclusive end, ISO 8601"),
      grain: z.enum(["minute", "hour", "day", "week", "month", "quarter", "year"]).optional(),
      order_by: z.string().optional().describe("a metric or dimension, optionally followed by ' desc'"),
      row_limit: z.number().int().min(1).max(100000).optional(),
    },
    annotations: readOnlyHint,
  },
  async (a) =>
    tool(async (c) => {
      const r = await c.query(
        "SELECT strata.query_metrics($1::text[], $2::text[], $3::jsonb, $4::timestamptz, $5::timestamptz, $6, $7, $8) AS a",
        [a.metrics, a.by ?? [], JSON.stringify(a.filters ?? {}), a.time_from ?? null, a.time_to ?? null, a.grain ?? null,
         a.order_by ?? null, a.row_limit ?? 1000],
      );
      return answer(r.rows[0].a);
    }),
);

server.registerTool(
  "explain_question",
  {
    title: "Explain how a query would be answered",
    description:
      "Without running it: which rollup would answer a SELECT on a raw table and why the others would not " +
      "(strata.explain_routing), with estimated rows and cost of each plan.",
    inputSchema: { sql: z.string().describe("one SELECT statement") },
    annotations: readOnlyHint,
  },
  async ({ sql }) =>
    tool(async (c) => {
      const r = await c.query("SELECT * FROM strata.explain_routing($1)", [sql]);
      return answer({ candidates: r.rows });
    }),
);

server.registerTool(
  "run_sql",
  {
    title: "Run one read-only query",
    description:
      "Runs one SELECT (or WITH / VALUES / TABLE) in a read-only transaction with a statement timeout, through a " +
      "cursor: at most max_rows rows and about 1 MiB are returned, with truncated set beyond. strata.max_raw_rows " +
      "may refuse a brute-force scan (the error's hint names the rollups that answer such questions).",
    inputSchema: { sql: z.string().describe("one query"), max_rows: z.number().int().min(1).max(MAX_ROWS).optional() },
    annotations: readOnlyHint,
  },
  async ({ sql, max_rows }) =>
    tool(async (c) => {
      const limit = max_rows ?? Math.min(100, MAX_ROWS);
      // Extended protocol (a named statement: node-postgres parses it with Parse/Bind/Execute): Postgres
      // refuses more than one command in it; a cursor takes queries only. Deallocated after the rollback.
      prepared = true;
      await c.query({ name: `strata_mcp_${++statements}`, text: "DECLARE strata_mcp NO SCROLL CURSOR FOR " + sql, values: [] });
      const r = await c.query({ text: `FETCH FORWARD ${limit + 1} FROM strata_mcp`, values: [], rowMode: "array" });
      const columns = r.fields.map((f) => f.name);
      const rows = [];
      let bytes = 0;
      let truncated = r.rows.length > limit;
      for (const row of r.rows.slice(0, limit)) {
        bytes += JSON.stringify(row).length;
        if (bytes > MAX_BYTES) {
          truncated = true;
          break;
        }
        rows.push(row);
      }
      return answer({ columns, rows, row_count: rows.length, truncated });
    }),
);

return server;
}

const stop = async () => {
  await client.end().catch(() => {});
  process.exit(0);
};
if (httpPort === undefined) {
  const transport = new StdioServerTransport();
  // The client closing stdin (or the transport) ends the server and its connection.
  transport.onclose = stop;
  process.stdin.on("end", stop);
  await makeServer().connect(transport);
} else {
  // Streamable HTTP on the loopback address only, at /mcp; requests naming another host are refused (DNS
  // rebinding). Stateless: each POST is answered by a server made for it.
  const hosts = [`127.0.0.1:${httpPort}`, `localhost:${httpPort}`];
  const http = createServer(async (req, res) => {
    if (req.url !== "/mcp" || req.method !== "POST") {
      res.writeHead(req.url === "/mcp" ? 405 : 404, { "content-type": "application/json" });
      res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message: "POST /mcp only" }, id: null }));
      return;
    }
    const server = makeServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableDnsRebindingProtection: true,
      allowedHosts: hosts,
    });
    res.on("close", () => {
      transport.close();
      server.close();
    });
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res);
    } catch (err) {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/json" });
        res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32603, message: String(err?.message ?? err) }, id: null }));
      }
    }
  });
  http.listen(httpPort, "127.0.0.1", () => console.error(`strata-mcp: listening on http://127.0.0.1:${httpPort}/mcp`));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
