import assert from "node:assert/strict";
import { isPublicAddress } from "./address.ts";

Deno.test("isPublicAddress refuses loopback, private, link-local, multicast and reserved ranges", () => {
  const blocked = [
    "127.0.0.1",
    "10.1.2.3",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "198.18.0.1",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "64:ff9b::a00:1",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "2001:db8::1",
    "2002:7f00:1::1",
    "not-an-ip",
  ];
  for (const address of blocked) assert.equal(isPublicAddress(address), false, address);
  for (
    const address of ["8.8.8.8", "93.184.215.14", "172.32.0.1", "::ffff:8.8.8.8", "2606:4700::1111"]
  ) {
    assert.equal(isPublicAddress(address), true, address);
  }
});
