import { readFile } from "node:fs/promises";
import { API_EXIT, HubApiError, type HubAnswer } from "../api.ts";
import { when } from "../format.ts";
import { type Io, UsageError } from "../output.ts";
import { printTable } from "../table.ts";
import { connect, group, parse, positionals } from "./command.ts";

export const POLICY_USAGE = `Usage: portcullis policy list [--json]
       portcullis policy get NAME
       portcullis policy set NAME FILE.json [--json]
       portcullis policy reset NAME [--json]

The policies the edges enforce (thresholds, ip-lists, sender-lists, safe-senders, attachments,
hubs, delivery, content-model, relay-clients, malware); see docs/operations.md "Policies".
  list    every policy: whether it is set, and when it last changed
  get     the policy document as stored, as JSON on stdout (edit it and "policy set" it back);
          exit 2 when it is not set (the built-in defaults apply)
  set     replace a policy with the JSON document in FILE; the hub validates it and lists
          every problem (exit 2) before anything changes
  reset   delete the policy: the built-in defaults apply again
Common options: --profile NAME, --json.`;

interface PolicyEntry {
  name: string;
  set?: boolean;
  updatedAt?: string | null;
}

interface PolicyRecord {
  name?: string;
  body?: unknown;
  updatedAt?: string;
}

function policyPath(name: string): string {
  return `/policies/${encodeURIComponent(name)}`;
}

async function list(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  positionals(rest, []);
  const client = await connect(io, values.profile);
  const { items = [] } = await client.get<{ items?: PolicyEntry[] }>("/policies");
  if (values.json) io.out(JSON.stringify({ items }));
  else
    printTable(
      io,
      [
        { header: "POLICY", value: (p) => p.name },
        { header: "SET", value: (p) => (p.set === true ? "yes" : "no (defaults)"), style: (p) => (p.set === true ? undefined : "dim") },
        { header: "UPDATED", value: (p) => when(p.updatedAt) },
      ],
      items,
      "No policies.",
    );
  return API_EXIT.ok;
}

async function get(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  const [name] = positionals(rest, ["NAME"]);
  const client = await connect(io, values.profile);
  const record = await client.get<PolicyRecord>(policyPath(name!));
  // The document alone, pretty, so it can be edited and set back; --json adds the name and time.
  io.out(values.json ? JSON.stringify(record) : JSON.stringify(record.body ?? null, null, 2));
  return API_EXIT.ok;
}

/** The API lists a policy's problems in one message ("… is not valid: a; b; c"); shown one per line. */
function validationDetails(err: HubApiError): HubApiError {
  const match = /^(.*? is not valid): (.*)$/s.exec(err.message);
  if (match === null) return err;
  return new HubApiError(err.status, err.code, match[1]!, match[2]!.split("; "));
}

async function set(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  const [name, file] = positionals(rest, ["NAME", "FILE.json"]);
  let document: unknown;
  try {
    document = JSON.parse(await readFile(file!, "utf8"));
  } catch (err) {
    throw new UsageError(`${file}: ${err instanceof SyntaxError ? "not valid JSON: " : ""}${err instanceof Error ? err.message : String(err)}`);
  }
  const client = await connect(io, values.profile);
  let answer: HubAnswer<PolicyRecord>;
  try {
    answer = await client.request<PolicyRecord>("PUT", policyPath(name!), { json: document });
  } catch (err) {
    throw err instanceof HubApiError && err.code === "invalid_policy" ? validationDetails(err) : err;
  }
  if (values.json) io.out(JSON.stringify({ created: answer.status === 201, policy: answer.body }));
  else io.out(`Policy ${name} ${answer.status === 201 ? "set" : "replaced"}. The edges apply it within seconds.`);
  return API_EXIT.ok;
}

async function reset(argv: string[], io: Io): Promise<number> {
  const { values, positionals: rest } = parse(argv, {});
  const [name] = positionals(rest, ["NAME"]);
  const client = await connect(io, values.profile);
  let wasSet = true;
  try {
    await client.request("DELETE", policyPath(name!));
  } catch (err) {
    // Resetting a policy that is not set is already done; an unknown name is still an error.
    if (!(err instanceof HubApiError && err.code === "not_set")) throw err;
    wasSet = false;
  }
  if (values.json) io.out(JSON.stringify({ policy: name, reset: wasSet }));
  else io.out(wasSet ? `Policy ${name} deleted: the built-in defaults apply.` : `Policy ${name} was not set: the built-in defaults already apply.`);
  return API_EXIT.ok;
}

export const policy = group("policy", { list, get, set, reset });
