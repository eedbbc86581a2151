import { describe, expect, it } from "vitest";
import { cidrContains, parseCidr, parseIp } from "../../../../shared/net/cidr.ts";

describe("CIDR ranges", () => {
  it.each([
    ["192.0.2.0/24", 4, 24],
    ["192.0.2.7", 4, 32],
    ["2001:db8::/32", 6, 32],
    ["::1", 6, 128],
    ["::ffff:192.0.2.1/128", 6, 128],
    ["fe80::1%eth0/64", 6, 64],
  ])("parses %s", (text, version, prefix) => {
    expect(parseCidr(text)).toMatchObject({ version, prefix });
  });

  it.each([
    ["192.0.2.0/33"],
    ["256.0.0.1"],
    ["1.2.3"],
    ["01.2.3.4"],
    ["2001:db8:::1"],
    ["1:2:3:4:5:6:7:8:9"],
    ["::/129"],
    ["10.0.0.0/8/8"],
    [""],
    ["host.example"],
  ])("refuses %j", (text) => {
    expect(parseCidr(text)).toBeNull();
  });

  it("matches addresses inside a range and only those", () => {
    const v4 = parseCidr("198.51.100.0/22")!;
    expect(cidrContains(v4, parseIp("198.51.103.255")!)).toBe(true);
    expect(cidrContains(v4, parseIp("198.51.104.0")!)).toBe(false);
    expect(cidrContains(v4, parseIp("::ffff:198.51.100.9")!)).toBe(true);
    const v6 = parseCidr("2001:db8:abcd::/48")!;
    expect(cidrContains(v6, parseIp("2001:db8:abcd:ffff::1")!)).toBe(true);
    expect(cidrContains(v6, parseIp("2001:db8:abce::1")!)).toBe(false);
    expect(cidrContains(v6, parseIp("198.51.100.1")!)).toBe(false);
    expect(cidrContains(parseCidr("0.0.0.0/0")!, parseIp("203.0.113.9")!)).toBe(true);
  });

  it("clears host bits of the network address", () => {
    expect([...parseCidr("192.0.2.77/24")!.bytes]).toEqual([192, 0, 2, 0]);
  });
});
