/**
 * `npm run setup:cloudflare` against a fake wrangler (test/fixtures/fake-wrangler.js) that keeps the
 * account in a JSON file and prints what wrangler prints. The setup runs on copies of the configs.
 */
import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { experimental_readRawConfig as readRawConfig } from "wrangler";
import { parseQueueTable, parseR2Buckets, setId } from "../../scripts/setup-cloudflare.ts";

const root = path.resolve(import.meta.dirname, "../..");
const FAKE = path.join(root, "test/fixtures/fake-wrangler.js");
const CONFIGS = ["wrangler.toml", "workers/hub/wrangler.toml"];

const PRODUCTION = {
  d1: ["portcullis-production", "portcullis-production-standby"],
  kv: ["portcullis-edge-directory-production", "portcullis-edge-directory-production-us"],
  r2: [
    "portcullis-mailbox-production",
    "portcullis-backup-production",
    "portcullis-mailbox-production-standby",
    "portcullis-spool-production",
    "portcullis-spool-production-us",
  ],
  queues: [
    "portcullis-onward-production",
    "portcullis-tracking-production",
    "portcullis-onward-production-standby",
    "portcullis-spool-production",
    "portcullis-spool-production-us",
  ],
};

interface FakeAccount {
  d1: { name: string; uuid: string }[];
  kv: { title: string; id: string }[];
  r2: { name: string }[];
  queues: { queue_name: string }[];
  workers: Record<string, { secrets: Record<string, string> }>;
  calls: string[][];
}

/** The Workers of production and the secrets their configs require. */
const PRODUCTION_SECRETS: Record<string, string[]> = {
  "portcullis-hub-production": ["ADMIN_TOKEN", "DIRECTORY_KEY", "SYNC_SIGNING_KEY"],
  "portcullis-hub-production-standby": ["ADMIN_TOKEN", "DIRECTORY_KEY", "SYNC_SIGNING_KEY"],
  "portcullis-edge-production": ["DIRECTORY_KEY", "SYNC_SIGNING_KEY"],
  "portcullis-edge-production-us": ["DIRECTORY_KEY", "SYNC_SIGNING_KEY"],
};

let dir = "";
let account = "";

async function setup(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return promisify(execFile)(process.execPath, [path.join(root, "scripts/setup-cloudflare.ts"), "--config-dir", dir, ...argv], {
    cwd: root,
    env: { ...process.env, PORTCULLIS_WRANGLER: FAKE, FAKE_WRANGLER_ACCOUNT: account },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

const readAccount = async (): Promise<FakeAccount> => JSON.parse(await readFile(account, "utf8")) as FakeAccount;
const creates = (a: FakeAccount) => a.calls.filter((c) => c.includes("create")).map((c) => c.join(" "));
const secretPuts = (a: FakeAccount) => a.calls.filter((c) => c[0] === "secret" && c[1] === "put");
/** The one value a secret has on every Worker that holds it (fails the test if they differ). */
function sharedValue(a: FakeAccount, secret: string): string {
  const values = new Set(Object.values(a.workers).flatMap((w) => (secret in w.secrets ? [w.secrets[secret]!] : [])));
  expect(values.size).toBe(1);
  return [...values][0]!;
}
const configs = async () => Promise.all(CONFIGS.map((c) => readFile(path.join(dir, c), "utf8")));
const raw = (config: string) => readRawConfig({ config: path.join(dir, config) }).rawConfig;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "portcullis-setup-"));
  await mkdir(path.join(dir, "workers/hub"), { recursive: true });
  for (const c of CONFIGS) await copyFile(path.join(root, c), path.join(dir, c));
  account = path.join(dir, "account.json");
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("npm run setup:cloudflare", () => {
  it("creates every resource of production on an empty account and writes the ids into the configs' env sections", async () => {
    const before = await configs();
    const first = await setup("--env", "production");
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const a = await readAccount();
    expect(a.d1.map((d) => d.name).sort()).toEqual([...PRODUCTION.d1].sort());
    expect(a.kv.map((k) => k.title).sort()).toEqual([...PRODUCTION.kv].sort());
    expect(a.r2.map((b) => b.name).sort()).toEqual([...PRODUCTION.r2].sort());
    expect(a.queues.map((q) => q.queue_name).sort()).toEqual([...PRODUCTION.queues].sort());
    expect(creates(a)).toHaveLength(14);

    const hub = raw("workers/hub/wrangler.toml");
    const edge = raw("wrangler.toml");
    const d1Id = (name: string) => a.d1.find((d) => d.name === name)!.uuid;
    const kvId = (title: string) => a.kv.find((k) => k.title === title)!.id;
    expect(hub.env!.production!.d1_databases![0]!.database_id).toBe(d1Id("portcullis-production"));
    expect(hub.env!["production-standby"]!.d1_databases![0]!.database_id).toBe(d1Id("portcullis-production-standby"));
    expect(edge.env!.production!.kv_namespaces![0]!.id).toBe(kvId("portcullis-edge-directory-production"));
    expect(edge.env!["production-us"]!.kv_namespaces![0]!.id).toBe(kvId("portcullis-edge-directory-production-us"));
    // nothing outside production changed: the top level and staging keep their placeholders
    expect(hub.d1_databases![0]!.database_id).toBe("portcullis-local");
    expect(hub.env!.staging!.d1_databases![0]!.database_id).toBe("portcullis-staging");
    expect(edge.env!.staging!.kv_namespaces![0]!.id).toBe("portcullis-edge-directory-staging");
    // only the id lines changed: comments and layout survive
    const after = await configs();
    for (const [i, text] of after.entries()) {
      const changed = text.split("\n").filter((line, n) => line !== before[i]!.split("\n")[n]);
      expect(changed.length).toBe(2);
      for (const line of changed) expect(line).toMatch(/^(database_id|id) = "[0-9a-f-]{32,36}"$/);
    }

    expect(first.stdout).toContain("Created 14 resource(s), wrote 4 id(s).");
    expect(first.stdout).toContain("npx wrangler secret put ADMIN_TOKEN -c workers/hub/wrangler.toml --env production-standby");
    expect(first.stdout).toContain("npx wrangler secret put SYNC_SIGNING_KEY -c wrangler.toml --env production-us");
    expect(first.stdout).toContain("npm run deploy -- --env production");

    const second = await setup("--env", "production");
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("Nothing to do");
    expect(creates(await readAccount())).toHaveLength(14);
    expect(await configs()).toEqual(after);
  });

  it("on a partly set-up account creates only what is missing and fills in an id the configs lack", async () => {
    await writeFile(
      account,
      JSON.stringify({
        d1: [{ uuid: "0f4b7a3e-9a57-4d27-b7c1-2c2f0e0d5a11", name: "portcullis-staging" }],
        kv: [],
        r2: [{ name: "portcullis-mailbox-staging", creation_date: "2026-11-01T00:00:00.000Z" }],
        // more queues than one `queues list` page of the fake holds: the setup must read every page
        queues: ["other-1", "other-2", "other-3", "other-4", "portcullis-spool-staging"].map((queue_name, i) => ({
          queue_id: `q${i}`,
          queue_name,
          created_on: "2026-11-01T00:00:00.000Z",
          modified_on: "2026-11-01T00:00:00.000Z",
          producers_total_count: 0,
          consumers_total_count: 0,
        })),
      }),
    );
    const run = await setup("--env", "staging");
    expect(run.code).toBe(0);
    const a = await readAccount();
    expect(creates(a).sort()).toEqual(
      [
        "d1 create portcullis-staging-standby",
        "kv namespace create portcullis-edge-directory-staging",
        "r2 bucket create portcullis-backup-staging",
        "r2 bucket create portcullis-mailbox-staging-standby",
        "r2 bucket create portcullis-spool-staging",
        "queues create portcullis-onward-staging",
        "queues create portcullis-tracking-staging",
        "queues create portcullis-onward-staging-standby",
      ].sort(),
    );
    expect(a.calls.filter((c) => c[0] === "queues" && c[1] === "list").map((c) => c.at(-1))).toEqual(["1", "2", "3"]);
    expect(raw("workers/hub/wrangler.toml").env!.staging!.d1_databases![0]!.database_id).toBe("0f4b7a3e-9a57-4d27-b7c1-2c2f0e0d5a11");
    expect(raw("wrangler.toml").env!.staging!.kv_namespaces![0]!.id).toMatch(/^[0-9a-f]{32}$/);
  });

  it("--dry-run lists, reports what it would do, and creates and writes nothing", async () => {
    const before = await configs();
    const run = await setup("--env", "staging", "--dry-run");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("would create D1 database portcullis-staging");
    expect(run.stdout).toContain("Dry run: would create");
    expect(creates(await readAccount())).toEqual([]);
    expect(await configs()).toEqual(before);
  });

  it("a wrangler failure stops the setup with the failing command, wrangler's error and a non-zero exit", async () => {
    const before = await configs();
    const run = await promisify(execFile)(process.execPath, [path.join(root, "scripts/setup-cloudflare.ts"), "--config-dir", dir, "--env", "production"], {
      cwd: root,
      env: { ...process.env, PORTCULLIS_WRANGLER: FAKE, FAKE_WRANGLER_ACCOUNT: account, FAKE_WRANGLER_FAIL: "kv namespace create" },
    }).then(
      () => ({ code: 0, stderr: "" }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('"wrangler kv namespace create portcullis-edge-directory-production" failed (exit 1)');
    expect(run.stderr).toContain("Authentication error [code: 10000]");
    // the databases were created before the failure, but no id was written
    expect((await readAccount()).d1).toHaveLength(2);
    expect(await configs()).toEqual(before);
  });

  it("refuses a missing or unknown environment, and an unreadable config, with a clear message", async () => {
    const none = await setup();
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--env is required/);
    const unknown = await setup("--env", "production-us");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown environment "production-us" \(expected staging or production\)/);
    await rm(path.join(dir, "workers/hub/wrangler.toml"));
    const missing = await setup("--env", "staging");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/could not read .*workers\/hub\/wrangler.toml/);
  });
});

describe("npm run setup:cloudflare --secrets", () => {
  it("sets every required secret once, with one value per secret across the environment's Workers, and sets none on a second run", async () => {
    const first = await setup("--env", "production", "--secrets");
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    const a = await readAccount();
    expect(Object.fromEntries(Object.entries(a.workers).map(([name, w]) => [name, Object.keys(w.secrets).sort()]))).toEqual(PRODUCTION_SECRETS);
    const values = ["ADMIN_TOKEN", "DIRECTORY_KEY", "SYNC_SIGNING_KEY"].map((secret) => sharedValue(a, secret));
    for (const value of values) expect(value).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(values).size).toBe(3);
    // each put names the secret and the Worker (no --env, which would rename it); the value never is an argument
    const puts = secretPuts(a);
    expect(puts).toHaveLength(10);
    for (const put of puts) {
      expect(put.slice(0, 4)).toEqual(["secret", "put", put[2], "--name"]);
      expect(put).not.toContain("--env");
      for (const value of values) expect(put.join(" ")).not.toContain(value);
    }
    // the values stay out of the output, but for the admin token on one labelled line
    const [adminToken, directoryKey, syncKey] = values as [string, string, string];
    expect(first.stdout).not.toContain(directoryKey);
    expect(first.stdout).not.toContain(syncKey);
    expect(first.stdout.split("\n").filter((l) => l.includes(adminToken))).toEqual([`ADMIN_TOKEN=${adminToken}`]);
    expect(first.stdout).toContain("setting secret DIRECTORY_KEY on portcullis-hub-production, portcullis-hub-production-standby");
    expect(first.stdout).toContain("optional secret DKIM_KEYS on portcullis-edge-production-us: not set (never generated");
    expect(first.stdout).not.toContain("npx wrangler secret put");

    const second = await setup("--env", "production", "--secrets");
    expect(second.code).toBe(0);
    expect(second.stdout).toContain("every required secret of production is set; none changed");
    expect(second.stdout).not.toContain("ADMIN_TOKEN=");
    const b = await readAccount();
    expect(secretPuts(b)).toHaveLength(10);
    expect(b.workers).toEqual(a.workers);
  });

  it("keeps the secrets an environment has and generates only those no Worker has", async () => {
    const workers = {
      "portcullis-hub-staging": { secrets: { ADMIN_TOKEN: "kept-admin", DKIM_KEYS: "unrelated" } },
      "portcullis-hub-staging-standby": { secrets: { ADMIN_TOKEN: "kept-admin" } },
    };
    await writeFile(account, JSON.stringify({ workers }));
    const run = await setup("--env", "staging", "--secrets");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const a = await readAccount();
    expect(sharedValue(a, "ADMIN_TOKEN")).toBe("kept-admin");
    expect(secretPuts(a).map((c) => `${c[2]} ${c[4]}`)).toEqual([
      "DIRECTORY_KEY portcullis-hub-staging",
      "DIRECTORY_KEY portcullis-hub-staging-standby",
      "DIRECTORY_KEY portcullis-edge-staging",
      "SYNC_SIGNING_KEY portcullis-hub-staging",
      "SYNC_SIGNING_KEY portcullis-hub-staging-standby",
      "SYNC_SIGNING_KEY portcullis-edge-staging",
    ]);
    expect(Object.keys(a.workers["portcullis-edge-staging"]!.secrets).sort()).toEqual(["DIRECTORY_KEY", "SYNC_SIGNING_KEY"]);
    expect(run.stdout).toContain("exists   secret ADMIN_TOKEN on portcullis-hub-staging-standby");
    expect(run.stdout).not.toContain("kept-admin");
    expect(run.stdout).not.toContain("ADMIN_TOKEN=");
  });

  it("refuses, setting nothing, when a shared secret is on some Workers of the environment but not all", async () => {
    const workers = {
      "portcullis-hub-production": { secrets: { ADMIN_TOKEN: "a", DIRECTORY_KEY: "secret-directory-key" } },
      "portcullis-edge-production": { secrets: {} },
    };
    await writeFile(account, JSON.stringify({ workers }));
    const run = await setup("--env", "production", "--secrets");
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("refusing to set the secrets of production");
    expect(run.stderr).toContain(
      "DIRECTORY_KEY is set on portcullis-hub-production but not on portcullis-hub-production-standby, portcullis-edge-production, portcullis-edge-production-us. " +
        "It must have the same value on every Worker of production, and the setup cannot read a secret back: copy the value it holds onto",
    );
    expect(run.stderr).toContain("ADMIN_TOKEN is set on portcullis-hub-production but not on portcullis-hub-production-standby.");
    // SYNC_SIGNING_KEY, which no Worker has, is not set either: the refusal comes before any put
    const a = await readAccount();
    expect(secretPuts(a)).toEqual([]);
    expect(a.workers).toEqual(workers);
    expect(run.stdout + run.stderr).not.toContain("secret-directory-key");
  });

  it("--dry-run lists the secrets and says what it would set, and sets nothing", async () => {
    const run = await setup("--env", "production", "--secrets", "--dry-run");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      "would set secret SYNC_SIGNING_KEY on portcullis-hub-production, portcullis-hub-production-standby, portcullis-edge-production, portcullis-edge-production-us",
    );
    expect(run.stdout).toContain("Secrets: would set 10 (ADMIN_TOKEN, DIRECTORY_KEY, SYNC_SIGNING_KEY).");
    expect(run.stdout).not.toMatch(/[0-9a-f]{64}/);
    const a = await readAccount();
    expect(a.calls.filter((c) => c[0] === "secret" && c[1] === "list")).toHaveLength(4);
    expect(secretPuts(a)).toEqual([]);
    expect(a.workers).toEqual({});
  });
});

describe("reading wrangler's output and editing the TOML", () => {
  it("reads bucket names from r2 bucket list and queue names from the queues list table", () => {
    expect(
      parseR2Buckets("Listing buckets...\nname:           a-bucket\ncreation_date:  2026-11-01T00:00:00.000Z\n\nname:           b\ncreation_date:  x\n"),
    ).toEqual(["a-bucket", "b"]);
    const table = ["┌────┬──────┐", "│ id │ name │", "├────┼──────┤", "│ 1  │ q-1  │", "├────┼──────┤", "│ 2  │ q-2  │", "└────┴──────┘"].join("\n");
    expect(parseQueueTable(table)).toEqual(["q-1", "q-2"]);
    expect(parseQueueTable("┌┐\n└┘")).toEqual([]);
  });

  it("sets the id of one entry of one env section and nothing else", () => {
    const text = [
      "[[env.a.kv_namespaces]]",
      'binding = "DIRECTORY"',
      'id = "old"',
      "",
      "[[env.a-b.kv_namespaces]]",
      'binding = "DIRECTORY"',
      'id = "old" # kept',
      "",
      "[[env.a-b.kv_namespaces]]",
      'binding = "OTHER"',
      'id = "old"',
      "",
    ].join("\n");
    const slot = { section: "a-b", table: "kv_namespaces", match: { key: "binding", value: "DIRECTORY" }, idKey: "id" } as const;
    expect(setId(text, slot, "new")).toBe(text.replace('id = "old" # kept', 'id = "new" # kept'));
    expect(() => setId(text, { ...slot, section: "c" }, "new")).toThrow(/no \[\[env\.c\.kv_namespaces\]\] entry with binding = "DIRECTORY"/);
  });
});
