import { domainOf, normaliseAddress } from "../../../shared/directory/address.ts";
import { routesForDomains } from "../db/domains.ts";
import type { NewOnward } from "../db/onward.ts";
import { ONWARD_EXPIRE_SECONDS } from "./limits.ts";
import { onwardTarget } from "./route.ts";

/**
 * The onward steps a message for `recipients` gets: one per distinct route among their domains
 * (webhook or forward; the mailbox route adds none — several domains may share a route), each with
 * the recipients it serves. Ingest writes them for accepted mail, a release for released mail.
 */
export async function onwardStepsFor(db: D1Database, recipients: string[], now: number): Promise<NewOnward[]> {
  const byDomain = new Map<string, string[]>();
  for (const to of recipients) {
    const address = normaliseAddress(to);
    if (address === null) continue;
    const domain = domainOf(address);
    byDomain.set(domain, [...(byDomain.get(domain) ?? []), to]);
  }
  const routes = await routesForDomains(db, [...byDomain.keys()]);
  const steps = new Map<string, NewOnward>();
  for (const [domain, served] of byDomain) {
    const route = routes.get(domain);
    const target = route === undefined ? null : onwardTarget(route);
    if (target === null) continue;
    const known = steps.get(target.key);
    if (known !== undefined) known.recipients.push(...served);
    else {
      steps.set(target.key, {
        ...target,
        recipients: [...served],
        nextAttemptAt: new Date(now).toISOString(),
        expiresAt: new Date(now + ONWARD_EXPIRE_SECONDS * 1000).toISOString(),
      });
    }
  }
  return [...steps.values()];
}
