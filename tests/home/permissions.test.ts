import { describe, expect, it } from "vitest";
import { HomePolicy, normalizeAreaKey, type EntityFacts } from "../../src/home/permissions.ts";
import { ann, bob, kid } from "./homeFixtures.ts";

function facts(entityId: string, extra: Partial<EntityFacts> = {}): EntityFacts {
  return { entityId, domain: entityId.split(".")[0] ?? "", areaId: undefined, areaName: undefined, deviceClass: undefined, exposed: true, ...extra };
}

const policy = new HomePolicy({ climateSafeRange: [60, 78] });
const kidsLight = facts("light.kids_room", { areaId: "kids_room", areaName: "Kids' Room" });
const kitchen = facts("light.kitchen", { areaId: "kitchen", areaName: "Kitchen" });

describe("HomePolicy", () => {
  it("matches scopes by area id, area name, domain, entity and wildcard", () => {
    expect(policy.canRead(kid, kidsLight)).toBe(true); // area name "Kids' Room" in config
    expect(policy.canControl(kid, kidsLight)).toBe(true); // area id in config
    expect(policy.canRead(kid, kitchen)).toBe(false);
    expect(policy.canControl(kid, facts("lock.front_door"))).toBe(true); // by entity id
    expect(policy.canControl(bob, kitchen)).toBe(true); // by domain
    expect(policy.canControl(bob, facts("lock.front_door"))).toBe(false);
    expect(policy.canRead(ann, kitchen)).toBe(true); // "*" area
    expect(policy.canControl(ann, facts("lock.front_door"))).toBe(true); // "*" domain
  });

  it("never shows entities HA does not expose to Assist, unless told to ignore exposure", () => {
    const hidden = facts("switch.server_rack", { exposed: false });
    expect(policy.canRead(ann, hidden)).toBe(false);
    expect(policy.canControl(ann, hidden)).toBe(false);
    expect(new HomePolicy({ respectExposure: false }).canRead(ann, hidden)).toBe(true);
    // No exposure list at all (old HA): scopes alone decide.
    expect(policy.canRead(ann, facts("light.x", { exposed: undefined }))).toBe(true);
  });

  it("flags locks, alarms, garage covers and out-of-range set points as sensitive", () => {
    expect(policy.sensitivity(facts("lock.front_door"), "unlock", {})).toMatch(/lock/);
    expect(policy.sensitivity(facts("lock.front_door"), "lock", {})).toMatch(/lock/);
    expect(policy.sensitivity(facts("alarm_control_panel.home"), "alarm_disarm", {})).toMatch(/alarm/);
    expect(policy.sensitivity(facts("cover.garage_door", { deviceClass: "garage" }), "open_cover", {})).toMatch(/garage/);
    expect(policy.sensitivity(facts("cover.gate", { deviceClass: "gate" }), "close_cover", {})).toMatch(/gate/);
    expect(policy.sensitivity(facts("cover.blinds", { deviceClass: "blind" }), "open_cover", {})).toBeUndefined();
    const climate = facts("climate.thermostat");
    expect(policy.sensitivity(climate, "set_temperature", { temperature: 68 })).toBeUndefined();
    expect(policy.sensitivity(climate, "set_temperature", { temperature: 60 })).toBeUndefined();
    expect(policy.sensitivity(climate, "set_temperature", { temperature: 78 })).toBeUndefined();
    expect(policy.sensitivity(climate, "set_temperature", { temperature: 85 })).toMatch(/60–78/);
    expect(policy.sensitivity(climate, "set_temperature", { temperature: 50 })).toMatch(/60–78/);
    expect(policy.sensitivity(climate, "set_temperature", { target_temp_high: 90 })).toMatch(/60–78/);
    expect(policy.sensitivity(climate, "set_temperature", { temperature: "hot" })).toBeDefined();
    expect(policy.sensitivity(kidsLight, "turn_off", {})).toBeUndefined();
  });

  it("gives HA's own conversation agent only to unrestricted confirmers", () => {
    expect(policy.mayConverse(ann)).toBe(true);
    expect(policy.mayConverse(bob)).toBe(false);
    expect(policy.mayConverse(kid)).toBe(false);
  });

  it("normalises area names", () => {
    expect(normalizeAreaKey("Kids' Room")).toBe("kids_room");
    expect(normalizeAreaKey("  Living-Room ")).toBe("living_room");
  });

  it("rejects an inverted safe range", () => {
    expect(() => new HomePolicy({ climateSafeRange: [80, 60] })).toThrow(RangeError);
  });
});
