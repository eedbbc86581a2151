import type { Delivery } from "../../../shared/delivery.ts";
import { deliverySettings } from "../../../shared/delivery/settings.ts";
import { domainOf, normaliseAddress } from "../../../shared/directory/address.ts";
import type { DirectoryReader } from "../../../shared/directory/reader.ts";
import { readPolicy } from "../../../shared/policy.ts";
import type { RecipientResult } from "../../../shared/relay/api.ts";
import { RelayError } from "../../../shared/relay/errors.ts";
import { formatReply, smtpReply } from "../../../shared/smtp.ts";
import { type DeliveryOutcome, deliverToHubs } from "../deliver.ts";
import { edgeHubs } from "../hubs.ts";
import { productionDeps, spoolDelivery } from "../spool.ts";
import { type ConnectorConfig, type ConnectorDeps, type ConnectorOutcome, sendExternal } from "./connectors.ts";
import { edgeLog } from "../../../shared/log.ts";

/** The send connector when no `relay` policy is set. */
export const DEFAULT_CONNECTOR: ConnectorConfig = { type: "send_email" };

/** Recipients split by where they go. */
export interface RecipientPlan {
  /** In an accepted domain and known there: through the upstream hubs. */
  internal: string[];
  /** Outside the accepted domains: through the send connector. */
  external: string[];
  /** Refused here (unknown user at an accepted domain). */
  refused: RecipientResult[];
}

/**
 * Splits the recipients: an accepted domain's known users go to the hubs (unknown ones are
 * refused, as the recipient filter refuses them from the internet — the relay is no way around
 * the directory); every other domain goes to the send connector.
 */
export async function planRecipients(directory: DirectoryReader, recipients: readonly string[]): Promise<RecipientPlan> {
  const plan: RecipientPlan = { internal: [], external: [], refused: [] };
  for (const address of recipients) {
    const normalised = normaliseAddress(address)!;
    if (!(await directory.isAcceptedDomain(domainOf(normalised)))) plan.external.push(address);
    else if ((await directory.lookupRecipient(normalised)) === null)
      plan.refused.push({
        address,
        route: "internal",
        status: "rejected",
        code: "unknown_recipient",
        message: formatReply(smtpReply({ reason: "unknown_recipient" })),
      });
    else plan.internal.push(address);
  }
  return plan;
}

/** What became of the internal recipients: the statuses, and the round for tracking. */
export interface InternalOutcome {
  results: RecipientResult[];
  delivery: Delivery;
  outcome: DeliveryOutcome | null;
  spooled: boolean;
}

/**
 * Hands the message to the upstream hubs exactly as the email handler does (same policy, plan,
 * breakers and budget); if none takes it, spools it. Never throws: a recipient that neither a hub
 * nor the spool holds is `deferred`. `addresses` are the recipients as the client wrote them (the
 * delivery's envelope has them normalised, as the email handler hands them over).
 */
export async function deliverInternal(
  env: Env,
  directory: DirectoryReader,
  delivery: Delivery,
  addresses: readonly string[],
  waitUntil: (work: Promise<unknown>) => void,
): Promise<InternalOutcome> {
  const each = (result: Omit<RecipientResult, "address" | "route">): RecipientResult[] =>
    addresses.map((address) => ({ address, route: "internal", ...result }));
  let hubs, settings;
  try {
    [hubs, settings] = await Promise.all([readPolicy(directory, "hubs").then(edgeHubs(env)), readPolicy(directory, "delivery").then(deliverySettings)]);
  } catch (err) {
    edgeLog(env.EDGE_ID, delivery).error("relay_delivery_policy_unreadable", { error: String(err) });
    return {
      results: each({ status: "deferred", code: "unavailable", message: "The delivery policy cannot be read; try again later." }),
      delivery,
      outcome: null,
      spooled: false,
    };
  }
  const outcome = await deliverToHubs(env, delivery, { hubs, settings, waitUntil, forward: productionDeps(env).forward });
  if (outcome.delivered) return { results: each({ status: "delivered", via: outcome.hubId }), delivery, outcome, spooled: false };
  // A refused hand-over is a bug or a version mismatch, not an outage: spooling would only repeat it.
  if (outcome.refused) {
    edgeLog(env.EDGE_ID, delivery).error("relay_hub_refused", { error: outcome.error });
    return {
      results: each({ status: "deferred", code: "hub_refused", message: "The upstream hub refused the hand-over; try again later." }),
      delivery,
      outcome,
      spooled: false,
    };
  }
  try {
    await spoolDelivery(env, delivery, outcome, settings);
  } catch (err) {
    edgeLog(env.EDGE_ID, delivery).error("relay_spool_failed", { error: `${outcome.error}; spooling failed too: ${String(err)}` });
    return {
      results: each({ status: "deferred", code: "hub_unavailable", message: formatReply(smtpReply({ reason: "hub_unavailable", detail: outcome.error })) }),
      delivery,
      outcome,
      spooled: false,
    };
  }
  return { results: each({ status: "queued" }), delivery, outcome, spooled: true };
}

/** What became of the external recipients. */
export interface ExternalOutcome {
  results: RecipientResult[];
  connector: ConnectorConfig["type"];
  outcomes: ConnectorOutcome[];
  ms: number;
}

/** The configured send connector (the `relay` policy), or the default. */
export async function connectorFor(directory: DirectoryReader): Promise<ConnectorConfig> {
  try {
    return (await readPolicy(directory, "relay"))?.sendConnector ?? DEFAULT_CONNECTOR;
  } catch (err) {
    throw new RelayError(503, "unavailable", `The relay policy cannot be read: ${err instanceof Error ? err.message : String(err)}`, 60);
  }
}

/** Sends to the external recipients through the connector. Never throws. */
export async function deliverExternal(
  env: Env,
  connector: ConnectorConfig,
  message: { deliveryId: string; from: string; to: string[]; raw: Uint8Array },
  deps: ConnectorDeps,
): Promise<ExternalOutcome> {
  const started = Date.now();
  const outcomes = await sendExternal(env, connector, message, deps);
  const results = outcomes.map((o): RecipientResult => {
    if (o.ok) return { address: o.address, route: "external", status: "sent", via: connector.type };
    if (connector.type === "none")
      return {
        address: o.address,
        route: "external",
        status: "rejected",
        code: "relay_denied",
        message: formatReply(smtpReply({ reason: "relay_denied", domain: "" })),
      };
    return {
      address: o.address,
      route: "external",
      status: o.temporary ? "deferred" : "failed",
      code: o.temporary ? "connector_unavailable" : "connector_refused",
      message: o.error,
    };
  });
  return { results, connector: connector.type, outcomes, ms: Date.now() - started };
}
