import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { DirectoryKey } from "../../../shared/directory/hash.ts";
import { MAX_IMPORT_ERRORS, MAX_IMPORT_JSON_BYTES, MAX_IMPORT_RECORD_CHARS, MAX_IMPORT_ROWS } from "../../../shared/limits.ts";
import { RecipientImporter } from "../../../workers/hub/db/recipients.ts";
import { api, count, expectNoSyncRequested, expectSyncRequested } from "./helpers.ts";

interface ImportResult {
  created: number;
  updated: number;
  unchanged: number;
  errors: { row: number; address: string; error: string }[];
  errorsTruncated?: boolean;
}

interface Recipient {
  address: string;
  domain: string;
  aliases: string[];
  rejectInternet: boolean;
  sclOverride: number | null;
  createdAt: string;
  updatedAt: string | null;
}

async function importJson(items: unknown[]): Promise<ImportResult> {
  const res = await api("/api/v1/recipients", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(items) });
  expect(res.status).toBe(200);
  return (await res.json()) as ImportResult;
}

async function importCsv(body: string | ReadableStream<Uint8Array>): Promise<ImportResult> {
  const res = await api("/api/v1/recipients", { method: "POST", headers: { "content-type": "text/csv; charset=utf-8" }, body });
  expect(res.status).toBe(200);
  return (await res.json()) as ImportResult;
}

async function recipient(address: string): Promise<Recipient> {
  const res = await api(`/api/v1/recipients/${encodeURIComponent(address)}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Recipient;
}

/** A CSV body produced line by line as it is read, in chunks that split lines (and CRLFs) anywhere. */
function csvStream(lines: () => Generator<string>, chunkBytes = 4093): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const source = lines();
  let pending = new Uint8Array(0);
  let ended = false;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      while (pending.length < chunkBytes && !ended) {
        let text = "";
        for (let i = 0; i < 200; i++) {
          const next = source.next();
          if (next.done === true) {
            ended = true;
            break;
          }
          text += next.value;
        }
        const bytes = encoder.encode(text);
        const joined = new Uint8Array(pending.length + bytes.length);
        joined.set(pending);
        joined.set(bytes, pending.length);
        pending = joined;
      }
      if (pending.length > 0) {
        controller.enqueue(pending.slice(0, chunkBytes));
        pending = pending.slice(chunkBytes);
      }
      if (ended && pending.length === 0) controller.close();
    },
  });
}

beforeAll(async () => {
  for (const domain of ["example.com", "example.net", "bulk.test"]) {
    const res = await api(`/api/v1/domains/${domain}`, { method: "PUT" });
    expect([200, 201]).toContain(res.status);
  }
});

describe("recipients import (JSON)", () => {
  it("creates recipients with their aliases and flags, every address hashed with the directory key", async () => {
    const result = await importJson([
      { address: "Alice@Example.COM", aliases: ["A.Smith@example.com", "alice@example.net", "alice@example.com"], rejectInternet: true, sclOverride: 5 },
      { address: "bob@example.com" },
    ]);
    expect(result).toEqual({ created: 2, updated: 0, unchanged: 0, errors: [] });

    const alice = await recipient("alice@example.com");
    expect(alice).toMatchObject({
      address: "alice@example.com",
      domain: "example.com",
      aliases: ["a.smith@example.com", "alice@example.net"],
      rejectInternet: true,
      sclOverride: 5,
    });
    expect(Date.parse(alice.createdAt)).not.toBeNaN();
    expect(alice.updatedAt).not.toBeNull();
    expect(await recipient("bob@example.com")).toMatchObject({ aliases: [], rejectInternet: false, sclOverride: null });

    const rows = await env.DB.prepare(
      "SELECT address, recipient, domain, hash FROM recipient_addresses WHERE recipient IN ('alice@example.com', 'bob@example.com') ORDER BY address",
    ).all<{
      address: string;
      recipient: string;
      domain: string;
      hash: number[];
    }>();
    expect(rows.results.map((r) => [r.address, r.recipient, r.domain])).toEqual([
      ["a.smith@example.com", "alice@example.com", "example.com"],
      ["alice@example.com", "alice@example.com", "example.com"],
      ["alice@example.net", "alice@example.com", "example.net"],
      ["bob@example.com", "bob@example.com", "example.com"],
    ]);
    const key = await DirectoryKey.import(env.DIRECTORY_KEY);
    for (const row of rows.results) {
      expect(row.hash).toHaveLength(16);
      expect(new Uint8Array(row.hash)).toEqual(new Uint8Array(await key.hashAddress(row.address)));
    }
  });

  it("finds a recipient by one of its aliases, and answers 404 and 400 otherwise", async () => {
    await importJson([{ address: "carol@example.com", aliases: ["c.jones@example.net"] }]);
    expect((await recipient("C.Jones@Example.NET")).address).toBe("carol@example.com");
    const unknown = await api("/api/v1/recipients/nobody@example.com");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "not_found", message: expect.any(String) } });
    const invalid = await api("/api/v1/recipients/not-an-address");
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ error: { code: "bad_request", message: expect.any(String) } });
  });

  it("updates flags and replaces the alias set of an existing recipient, and leaves what the row does not give", async () => {
    await importJson([{ address: "dave@example.com", aliases: ["d1@example.com", "d2@example.com"], sclOverride: 3 }]);
    const changes = await count("SELECT count(*) AS n FROM directory_changes");

    const replaced = await importJson([{ address: "dave@example.com", aliases: ["d2@example.com", "d3@example.com"], rejectInternet: true }]);
    expect(replaced).toEqual({ created: 0, updated: 1, unchanged: 0, errors: [] });
    expect(await recipient("dave@example.com")).toMatchObject({ aliases: ["d2@example.com", "d3@example.com"], rejectInternet: true, sclOverride: 3 });
    expect((await api("/api/v1/recipients/d1@example.com")).status).toBe(404);
    expect(await count("SELECT count(*) AS n FROM directory_changes")).toBeGreaterThan(changes);

    // Fields a row leaves out keep their stored values.
    expect(await importJson([{ address: "dave@example.com" }])).toEqual({ created: 0, updated: 0, unchanged: 1, errors: [] });
    expect(await recipient("dave@example.com")).toMatchObject({ aliases: ["d2@example.com", "d3@example.com"], rejectInternet: true, sclOverride: 3 });

    expect(await importJson([{ address: "dave@example.com", aliases: [], sclOverride: null }])).toMatchObject({ updated: 1 });
    expect(await recipient("dave@example.com")).toMatchObject({ aliases: [], rejectInternet: true, sclOverride: null });
    expect(await count("SELECT count(*) AS n FROM recipient_addresses WHERE recipient = 'dave@example.com'")).toBe(1);
  });

  it("refuses an alias that belongs to another recipient as a row error, and applies the other rows", async () => {
    await importJson([{ address: "erin@example.com", aliases: ["shared@example.com"] }]);
    const result = await importJson([
      { address: "frank@example.com", aliases: ["shared@example.com"] },
      { address: "grace@example.com", aliases: ["erin@example.com"] },
      { address: "heidi@example.com" },
    ]);
    expect(result.created).toBe(1);
    expect(result.errors).toEqual([
      { row: 1, address: "frank@example.com", error: expect.stringMatching(/shared@example\.com belongs to erin@example\.com/) },
      { row: 2, address: "grace@example.com", error: expect.stringMatching(/erin@example\.com belongs to erin@example\.com/) },
    ]);
    expect((await recipient("shared@example.com")).address).toBe("erin@example.com");
    expect((await api("/api/v1/recipients/frank@example.com")).status).toBe(404);
  });

  it("refuses an address or an alias outside the accepted domains as a row error", async () => {
    const result = await importJson([
      { address: "ivan@not-accepted.test" },
      { address: "judy@example.com", aliases: ["judy@not-accepted.test"] },
      { address: "ken@example.com" },
    ]);
    expect(result.created).toBe(1);
    expect(result.errors).toEqual([
      { row: 1, address: "ivan@not-accepted.test", error: expect.stringMatching(/not-accepted\.test is not an accepted domain/) },
      { row: 2, address: "judy@example.com", error: expect.stringMatching(/judy@not-accepted\.test/) },
    ]);
    expect(await count("SELECT count(*) AS n FROM recipients WHERE address IN ('ivan@not-accepted.test', 'judy@example.com')")).toBe(0);
  });

  it("reports malformed items by row and keeps going", async () => {
    const result = await importJson([
      "just a string",
      { address: "no-at-sign" },
      { address: "leo@example.com", sclOverride: 12 },
      { address: "mia@example.com", rejectInternet: "yes" },
      { address: "ned@example.com", alias: ["typo@example.com"] },
      { address: "oli@example.com", aliases: ["not an address"] },
      { address: "pam@example.com", aliases: "pam2@example.com" },
      { address: "quinn@example.com", sclOverride: 9 },
    ]);
    expect(result.created).toBe(1);
    expect(result.errors.map((e) => e.row)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(result.errors[2]).toMatchObject({ address: "leo@example.com", error: expect.stringMatching(/sclOverride/) });
    expect(result.errors[4]).toMatchObject({ error: expect.stringMatching(/unknown field "alias"/) });
  });

  it("applies rows in order: a later row for the same address wins, and an alias one row gives up another may take", async () => {
    await importJson([{ address: "rita@example.com", aliases: ["desk@example.com"] }]);
    const result = await importJson([
      { address: "sam@example.com", sclOverride: 1 },
      { address: "sam@example.com", sclOverride: 2 },
      { address: "rita@example.com", aliases: [] },
      { address: "tom@example.com", aliases: ["desk@example.com"] },
    ]);
    expect(result).toEqual({ created: 2, updated: 2, unchanged: 0, errors: [] });
    expect((await recipient("sam@example.com")).sclOverride).toBe(2);
    expect((await recipient("desk@example.com")).address).toBe("tom@example.com");
  });
});

describe("recipients import batches", () => {
  it("packs rows into multi-row statements that stay within D1's 100 bound parameters", async () => {
    const statements: { sql: string; params: number }[] = [];
    // The real database, recording what every statement binds.
    const db = new Proxy(env.DB, {
      get(target, property) {
        if (property === "prepare") {
          return (sql: string) => {
            const stmt = target.prepare(sql);
            return new Proxy(stmt, {
              get(inner, name) {
                if (name === "bind") {
                  return (...values: unknown[]) => {
                    statements.push({ sql, params: values.length });
                    return inner.bind(...values);
                  };
                }
                const value: unknown = Reflect.get(inner, name);
                return typeof value === "function" ? value.bind(inner) : value;
              },
            });
          };
        }
        const value: unknown = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const key = await DirectoryKey.import(env.DIRECTORY_KEY);
    const rows = Array.from({ length: 1_000 }, (_, i) => ({
      row: i + 1,
      address: `packed${i}@example.com`,
      ...(i % 100 === 0 ? { aliases: Array.from({ length: 100 }, (_, j) => `packed${i}.${j}@example.net`) } : {}),
      rejectInternet: i % 2 === 0,
      sclOverride: i % 10,
    }));
    const outcome = await new RecipientImporter(db, (a) => key.hashAddress(a)).apply(rows);
    expect(outcome).toEqual({ created: 1_000, updated: 0, unchanged: 0, errors: [] });

    expect(Math.max(...statements.map((s) => s.params))).toBeLessThanOrEqual(100);
    const inserts = (table: string) => statements.filter((s) => s.sql.startsWith(`INSERT INTO ${table} `));
    // 1,000 recipients at 4 parameters a row: 25 rows a statement.
    expect(inserts("recipients")).toHaveLength(40);
    // 1,000 primary addresses and 1,000 aliases at 4 parameters a row.
    expect(inserts("recipient_addresses")).toHaveLength(80);
    expect(inserts("recipient_addresses").every((s) => s.params === 100)).toBe(true);
    expect(await count("SELECT count(*) AS n FROM recipient_addresses WHERE address LIKE 'packed%' AND length(hash) = 16")).toBe(2_000);

    // Updating every row's flags takes multi-row updates too.
    statements.length = 0;
    const flipped = rows.map((r) => ({ row: r.row, address: r.address, rejectInternet: !r.rejectInternet }));
    expect(await new RecipientImporter(db, (a) => key.hashAddress(a)).apply(flipped)).toMatchObject({ updated: 1_000 });
    expect(Math.max(...statements.map((s) => s.params))).toBeLessThanOrEqual(100);
    expect(statements.filter((s) => s.sql.startsWith("UPDATE recipients SET reject_internet")).length).toBe(Math.ceil(1_000 / 33));
    expect(
      await count(
        "SELECT count(*) AS n FROM recipients WHERE address LIKE 'packed%' AND reject_internet = (CAST(substr(address, 7, instr(address, '@') - 7) AS INTEGER) % 2)",
      ),
    ).toBe(1_000);
  });
});

describe("recipients import (CSV)", () => {
  it("reads quoted fields, escaped quotes, quoted line breaks and CRLF line ends", async () => {
    const csv = [
      `"address","aliases",rejectInternet,"sclOverride"`,
      `"uma@example.com","u.one@example.com;u.two@example.net",yes,""`,
      `"o""hara@example.com",,0,7`,
      `vic@example.com,"v1@example.com;\r\nv2@example.com",TRUE,`,
      ``,
      `wes@example.com,,no,4`,
    ].join("\r\n");
    expect(await importCsv(csv)).toEqual({ created: 4, updated: 0, unchanged: 0, errors: [] });
    expect(await recipient("uma@example.com")).toMatchObject({ aliases: ["u.one@example.com", "u.two@example.net"], rejectInternet: true, sclOverride: null });
    expect(await recipient('o"hara@example.com')).toMatchObject({ aliases: [], rejectInternet: false, sclOverride: 7 });
    expect(await recipient("v2@example.com")).toMatchObject({
      address: "vic@example.com",
      aliases: ["v1@example.com", "v2@example.com"],
      rejectInternet: true,
    });
    expect(await recipient("wes@example.com")).toMatchObject({ sclOverride: 4 });
  });

  it("leaves aliases and flags alone when their columns are absent, and reports bad cells by row", async () => {
    await importJson([{ address: "xena@example.com", aliases: ["x@example.com"], rejectInternet: true, sclOverride: 2 }]);
    const result = await importCsv("address\nxena@example.com\nyuri@example.com\n");
    expect(result).toEqual({ created: 1, updated: 0, unchanged: 1, errors: [] });
    expect(await recipient("xena@example.com")).toMatchObject({ aliases: ["x@example.com"], rejectInternet: true, sclOverride: 2 });

    const bad = await importCsv("address,rejectInternet,sclOverride\nzoe@example.com,maybe,1\nzed@example.com,no,10\nzak@example.com,no\n");
    expect(bad.created).toBe(0);
    expect(bad.errors).toEqual([
      { row: 1, address: "zoe@example.com", error: expect.stringMatching(/rejectInternet/) },
      { row: 2, address: "zed@example.com", error: expect.stringMatching(/sclOverride/) },
      { row: 3, address: "zak@example.com", error: expect.stringMatching(/expected 3 fields, found 2/) },
    ]);
  });

  it("caps the error list and says it was cut", async () => {
    const rows = Array.from({ length: MAX_IMPORT_ERRORS + 5 }, (_, i) => `user${i}@elsewhere.test`);
    const result = await importCsv(`address\n${rows.join("\n")}\n`);
    expect(result.errors).toHaveLength(MAX_IMPORT_ERRORS);
    expect(result.errorsTruncated).toBe(true);
    expect(result.errors[0]?.row).toBe(1);
    expect(result.errors.at(-1)?.row).toBe(MAX_IMPORT_ERRORS);
  });

  it("imports 100,000 rows streamed in one request", async () => {
    const ROWS = 100_000;
    const changesBefore = await count("SELECT count(*) AS n FROM directory_changes WHERE kind = 'address'");
    const started = Date.now();
    const result = await importCsv(
      csvStream(function* () {
        yield "address,aliases,rejectInternet,sclOverride\r\n";
        for (let i = 0; i < ROWS; i++) yield `user${i}@bulk.test,${i % 10 === 0 ? `alias${i}@bulk.test` : ""},${i % 2 === 0 ? "true" : "false"},${i % 10}\r\n`;
      }),
    );
    const elapsed = Date.now() - started;
    console.log(JSON.stringify({ event: "bulk_import", rows: ROWS, ms: elapsed }));
    expect(result).toEqual({ created: ROWS, updated: 0, unchanged: 0, errors: [] });
    expect(elapsed).toBeLessThan(60_000);

    expect(await count("SELECT count(*) AS n FROM recipients WHERE domain = 'bulk.test'")).toBe(ROWS);
    expect(await count("SELECT count(*) AS n FROM recipients WHERE domain = 'bulk.test' AND reject_internet = 1")).toBe(ROWS / 2);
    expect(await count("SELECT count(*) AS n FROM recipients WHERE domain = 'bulk.test' AND scl_override = 7")).toBe(ROWS / 10);
    expect(await count("SELECT count(*) AS n FROM recipient_addresses WHERE domain = 'bulk.test'")).toBe(ROWS + ROWS / 10);
    expect(await count("SELECT count(*) AS n FROM recipient_addresses WHERE domain = 'bulk.test' AND length(hash) = 16")).toBe(ROWS + ROWS / 10);
    expect(await count("SELECT count(*) AS n FROM directory_changes WHERE kind = 'address'")).toBe(changesBefore + ROWS + ROWS / 10);
    expect((await recipient("alias99990@bulk.test")).address).toBe("user99990@bulk.test");
  });
});

describe("recipients list and delete", () => {
  it("lists the recipients of a domain in address order, page by page", async () => {
    await api("/api/v1/domains/pages.test", { method: "PUT" });
    await importJson(["c", "a", "e", "b", "d"].map((l) => ({ address: `${l}@pages.test`, aliases: [`${l}.alias@pages.test`] })));
    const seen: Recipient[] = [];
    let cursor: string | null = null;
    do {
      const res = await api(`/api/v1/recipients?domain=Pages.Test&limit=2${cursor === null ? "" : `&cursor=${cursor}`}`);
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: Recipient[]; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen.map((r) => r.address)).toEqual(["a@pages.test", "b@pages.test", "c@pages.test", "d@pages.test", "e@pages.test"]);
    expect(seen[0]).toMatchObject({ domain: "pages.test", aliases: ["a.alias@pages.test"], rejectInternet: false, sclOverride: null });
  });

  it("asks for a sync after an import that changed something and after a delete, and not otherwise", async () => {
    await expectSyncRequested(async () =>
      expect(await importJson([{ address: "synced@example.com", aliases: ["s@example.com"] }])).toMatchObject({ created: 1 }),
    );
    await expectSyncRequested(async () => expect(await importCsv("address,aliases\nsynced@example.com,\n")).toMatchObject({ updated: 1 }));
    await expectNoSyncRequested(async () => expect(await importCsv("address,aliases\nsynced@example.com,\n")).toMatchObject({ unchanged: 1 }));
    await expectNoSyncRequested(async () => expect(await importJson([{ address: "x@elsewhere.test" }])).toMatchObject({ errors: [{ row: 1 }] }));
    await expectSyncRequested(async () => expect((await api("/api/v1/recipients/synced@example.com", { method: "DELETE" })).status).toBe(204));
  });

  it("deletes a recipient by its primary address, aliases included", async () => {
    await importJson([{ address: "gone@example.com", aliases: ["gone.alias@example.com"] }]);
    expect((await api("/api/v1/recipients/gone.alias@example.com", { method: "DELETE" })).status).toBe(404);
    const res = await api("/api/v1/recipients/Gone@Example.com", { method: "DELETE" });
    expect(res.status).toBe(204);
    expect((await api("/api/v1/recipients/gone.alias@example.com")).status).toBe(404);
    expect(await count("SELECT count(*) AS n FROM recipient_addresses WHERE recipient = 'gone@example.com'")).toBe(0);
    expect((await api("/api/v1/recipients/gone@example.com", { method: "DELETE" })).status).toBe(404);
  });
});

describe("recipients export", () => {
  it("exports a domain as CSV in the import format, across pages, and importing it again changes nothing", async () => {
    await api("/api/v1/domains/export.test", { method: "PUT" });
    const rows = Array.from({ length: 5_200 }, (_, i) => ({ address: `u${String(i).padStart(5, "0")}@export.test` }));
    rows[3] = { ...rows[3]!, aliases: ["x.three@export.test", "y.three@export.test"], rejectInternet: true, sclOverride: 4 } as (typeof rows)[number];
    await importJson(rows);
    const res = await api("/api/v1/recipients/export?domain=export.test");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    expect(res.headers.get("content-disposition")).toBe('attachment; filename="recipients-export.test.csv"');
    const csv = await res.text();
    const lines = csv.trimEnd().split("\r\n");
    expect(lines[0]).toBe("address,aliases,rejectInternet,sclOverride");
    expect(lines).toHaveLength(5_201);
    expect(lines[1]).toBe("u00000@export.test,,false,");
    expect(lines[4]).toBe("u00003@export.test,x.three@export.test;y.three@export.test,true,4");
    expect(lines.at(-1)).toBe("u05199@export.test,,false,");
    const again = await importCsv(csv);
    expect(again).toMatchObject({ created: 0, updated: 0, unchanged: 5_200, errors: [] });
  });

  it("needs a valid domain and a token", async () => {
    expect((await api("/api/v1/recipients/export?domain=bad..domain")).status).toBe(400);
    expect((await api("/api/v1/recipients/export", { token: null })).status).toBe(401);
  });
});

describe("recipients API errors", () => {
  const json = { "content-type": "application/json" };
  const csv = { "content-type": "text/csv" };
  const tooManyRows = `[${Array<string>(MAX_IMPORT_ROWS + 1)
    .fill("1")
    .join(",")}]`;

  it.each<[string, number, string, string, RequestInit]>([
    [
      "a text/plain body",
      415,
      "unsupported_media_type",
      "/api/v1/recipients",
      { method: "POST", headers: { "content-type": "text/plain" }, body: "address\n" },
    ],
    ["a body without a content type", 415, "unsupported_media_type", "/api/v1/recipients", { method: "POST", body: new Uint8Array([1]) }],
    [
      "CSV in another charset",
      415,
      "unsupported_media_type",
      "/api/v1/recipients",
      { method: "POST", headers: { "content-type": "text/csv; charset=latin1" }, body: "address\n" },
    ],
    ["malformed JSON", 400, "bad_request", "/api/v1/recipients", { method: "POST", headers: json, body: "[{" }],
    ["JSON that is not an array", 400, "bad_request", "/api/v1/recipients", { method: "POST", headers: json, body: '{"address":"a@example.com"}' }],
    [
      "CSV without an address column",
      400,
      "bad_request",
      "/api/v1/recipients",
      { method: "POST", headers: csv, body: "aliases,sclOverride\nx@example.com,1\n" },
    ],
    ["CSV without a header", 400, "bad_request", "/api/v1/recipients", { method: "POST", headers: csv, body: "" }],
    [
      "CSV with an unknown column",
      400,
      "bad_request",
      "/api/v1/recipients",
      { method: "POST", headers: csv, body: "address,alias\nx@example.com,y@example.com\n" },
    ],
    ["CSV with an unterminated quote", 400, "bad_request", "/api/v1/recipients", { method: "POST", headers: csv, body: 'address\n"x@example.com\n' }],
    [
      "CSV that is not UTF-8",
      400,
      "bad_request",
      "/api/v1/recipients",
      { method: "POST", headers: csv, body: new Uint8Array([0x61, 0x64, 0x64, 0x72, 0x65, 0x73, 0x73, 0x0a, 0xff, 0x0a]) },
    ],
    [
      "CSV with an overlong record",
      400,
      "bad_request",
      "/api/v1/recipients",
      { method: "POST", headers: csv, body: `address\n${"a".repeat(MAX_IMPORT_RECORD_CHARS + 1)}\n` },
    ],
    [
      "JSON over the byte limit",
      413,
      "payload_too_large",
      "/api/v1/recipients",
      { method: "POST", headers: json, body: `[${" ".repeat(MAX_IMPORT_JSON_BYTES)}]` },
    ],
    ["JSON with too many rows", 413, "payload_too_large", "/api/v1/recipients", { method: "POST", headers: json, body: tooManyRows }],
    ["an import without a token", 401, "unauthorized", "/api/v1/recipients", { method: "POST", headers: json, body: "[]" }],
    ["a list with an invalid domain", 400, "bad_request", "/api/v1/recipients?domain=bad%20domain", {}],
    ["a list with a damaged cursor", 400, "bad_request", "/api/v1/recipients?cursor=%%%", {}],
    ["a list with limit=0", 400, "bad_request", "/api/v1/recipients?limit=0", {}],
    ["deleting an unknown recipient", 404, "not_found", "/api/v1/recipients/nobody@example.com", { method: "DELETE" }],
    ["deleting an invalid address", 400, "bad_request", "/api/v1/recipients/%20", { method: "DELETE" }],
  ])("answers %s with %i %s and a JSON error", async (what, status, code, path, init) => {
    const res = await api(path, { ...init, token: what.includes("without a token") ? null : undefined });
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(0);
  });

  it("stops a CSV import past the row limit with 413", async () => {
    const res = await api("/api/v1/recipients", {
      method: "POST",
      headers: csv,
      // Invalid addresses cost no D1 writes, so the limit is reached quickly.
      body: csvStream(function* () {
        yield "address\n";
        for (let i = 0; i <= MAX_IMPORT_ROWS; i++) yield "-\n";
      }),
    });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("payload_too_large");
    expect(body.error.message).toMatch(new RegExp(`limited to ${MAX_IMPORT_ROWS} rows`));
  });

  it("refuses a streamed JSON body once it passes the byte limit", async () => {
    const res = await api("/api/v1/recipients", {
      method: "POST",
      headers: json,
      body: csvStream(function* () {
        yield "[";
        for (let i = 0; i < MAX_IMPORT_JSON_BYTES / 30; i++) yield `{"address":"u${String(i).padStart(8, "0")}@example.com"},`;
        yield "]";
      }),
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ error: { code: "payload_too_large" } });
  });
});
