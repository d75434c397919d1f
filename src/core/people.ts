/**
 * Family members and how their chat identities map to them. Access policy, receipts' default
 * patient and Home Assistant permissions all key off a {@link Person}.
 */

/** What a person may see or do in Home Assistant. Empty lists mean "nothing"; `"*"` means all. */
export interface HomeScope {
  areas: string[];
  domains: string[];
  entities: string[];
}

/** Per-person Home Assistant permissions. */
export interface HomePermissions {
  read: HomeScope;
  control: HomeScope;
  /** May confirm sensitive actions (locks, alarms, garage covers) requested by others. */
  canConfirm: boolean;
}

/** A family member. */
export interface Person {
  /** Short lowercase name, e.g. "ann". Used as the receipts patient by default. */
  name: string;
  displayName: string;
  /** `admin` manages the vault and sees audits; `adult` and `child` differ only by permissions. */
  role: "admin" | "adult" | "child";
  /** Platform-qualified sender ids: `matrix:@ann:example.org`, `telegram:12345`, `console:ann`. */
  identities: string[];
  home: HomePermissions;
}

/** Looks people up by any of their identities. */
export class People {
  readonly #byIdentity = new Map<string, Person>();
  readonly #byName = new Map<string, Person>();

  /** Everyone, in configuration order. */
  readonly list: readonly Person[];

  constructor(list: readonly Person[]) {
    this.list = list;
    for (const p of list) {
      this.#byName.set(p.name, p);
      for (const id of p.identities) this.#byIdentity.set(id, p);
    }
  }

  /** The person behind a platform-qualified sender id, if they are known. */
  byIdentity(senderId: string): Person | undefined {
    return this.#byIdentity.get(senderId);
  }

  /** The person with this short name. */
  byName(name: string): Person | undefined {
    return this.#byName.get(name.toLowerCase());
  }
}
