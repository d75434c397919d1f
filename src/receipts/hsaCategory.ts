/**
 * Suggest an HSA expense category in the spirit of IRS Publication 502. This is a filing aid,
 * never an eligibility claim: anything doubtful is flagged `needsReview`.
 */

/** Categories Hearth files receipts under. */
export const HSA_CATEGORIES = ["pharmacy", "prescription", "office-visit", "dental", "vision", "lab", "hospital", "medical-equipment", "other"] as const;

/** One of {@link HSA_CATEGORIES}. */
export type HsaCategory = (typeof HSA_CATEGORIES)[number];

/** A suggested category with how sure the heuristic is. */
export interface CategorySuggestion {
  category: HsaCategory;
  /** 0..1 */
  confidence: number;
  /** True when a person should look at it (weak or conflicting evidence, or "other"). */
  needsReview: boolean;
}

const RULES: ReadonlyArray<{ category: Exclude<HsaCategory, "other">; patterns: RegExp[] }> = [
  { category: "prescription", patterns: [/\bRX\s*#|\bRX\s*NO|\bPRESCRIPTION\b|\bREFILLS?\b|\bNDC\b|\bDAYS?\s*SUPPLY\b|\bPRESCRIBER\b|\bDR\.?\s+\w+.*\bQTY\b|\bPATIENT\s*PAYS\b/i] },
  { category: "pharmacy", patterns: [/\bPHARMACY\b|\bPHARMACIST\b|\bCVS\b|\bWALGREENS\b|\bRITE\s*AID\b|\bDRUG\s*(STORE|MART)\b|\bGUARDIAN\b|\bWATSONS\b|\bOTC\b|\bALLERGY\b|\bIBUPROFEN\b|\bACETAMINOPHEN\b|\bBANDAGES?\b/i] },
  { category: "dental", patterns: [/\bDENTAL\b|\bDENTIST(RY)?\b|\bD\.?D\.?S\.?\b|\bORTHODONT\w*|\bPROPHYLAXIS\b|\bTEETH\b|\bFILLING\b|\bPERIODONT\w*/i] },
  { category: "vision", patterns: [/\bOPTICAL\b|\bOPTOMETR\w*|\bOPHTHALM\w*|\bEYE\s*(EXAM|CARE)\b|\bLENS(ES)?\b|\bEYEGLASS(ES)?\b|\bCONTACTS?\b|\bVISION\b|\bFRAMES?\b/i] },
  { category: "lab", patterns: [/\bLAB(ORATORY|S)?\b|\bQUEST\s*DIAGNOSTICS\b|\bLABCORP\b|\bPATHOLOGY\b|\bBLOOD\s*(TEST|WORK|DRAW)\b|\bPANEL\b|\bLIPID\b|\bURINALYSIS\b|\bX-?RAY\b|\bRADIOLOGY\b|\bIMAGING\b|\bMRI\b/i] },
  { category: "hospital", patterns: [/\bHOSPITAL\b|\bEMERGENCY\b|\bINPATIENT\b|\bOUTPATIENT\b|\bSURGERY\b|\bURGENT\s*CARE\b|\bMEDICAL\s*CENTER\b|\bER\s*VISIT\b/i] },
  { category: "office-visit", patterns: [/\bCO-?PAY(MENT)?\b|\bOFFICE\s*VISIT\b|\bCLINIC\b|\bPHYSICIANS?\b|\bM\.?D\.?\b|\bPEDIATRIC\w*|\bFAMILY\s*(MEDICINE|PRACTICE)\b|\bPRIMARY\s*CARE\b|\bCONSULTATION\b|\bTHERAP(Y|IST)\b|\bCHIROPRACT\w*/i] },
  { category: "medical-equipment", patterns: [/\bCPAP\b|\bCRUTCH(ES)?\b|\bWHEELCHAIR\b|\bGLUCOSE\b|\bGLUCOMETER\b|\bBLOOD\s*PRESSURE\s*MONITOR\b|\bBRACE\b|\bD\.?M\.?E\.?\b|\bTHERMOMETER\b|\bNEBULI[SZ]ER\b|\bHEARING\s*AIDS?\b|\bTEST\s*STRIPS\b/i] },
];

/**
 * Score each category by how many distinct rule patterns match the receipt (merchant matches
 * count double, since the provider usually says the most).
 */
export function suggestCategory(text: string, merchant?: string | null): CategorySuggestion {
  const scores = new Map<HsaCategory, number>();
  for (const rule of RULES) {
    let s = 0;
    for (const p of rule.patterns) {
      const g = new RegExp(p.source, "gi");
      const hits = new Set((text.match(g) ?? []).map((h) => h.toUpperCase())).size;
      s += Math.min(hits, 3);
      if (merchant && p.test(merchant)) s += 2;
    }
    if (s > 0) scores.set(rule.category, s);
  }
  const ranked = [...scores.entries()].sort((a, b) => b[1] - a[1]);
  const best = ranked[0];
  if (!best) return { category: "other", confidence: 0.2, needsReview: true };
  const second = ranked[1]?.[1] ?? 0;
  // A prescription receipt also mentions the pharmacy; prescription wins when both are present.
  if (best[0] === "pharmacy" && scores.has("prescription") && (scores.get("prescription") ?? 0) >= 1) {
    const rx = scores.get("prescription") ?? 0;
    return { category: "prescription", confidence: Math.min(0.9, 0.5 + 0.1 * rx), needsReview: rx < 2 };
  }
  const margin = best[1] - second;
  const confidence = Math.max(0.3, Math.min(0.95, 0.4 + 0.12 * best[1] + 0.08 * margin - (second > 0 ? 0.1 : 0)));
  return { category: best[0], confidence, needsReview: confidence < 0.6 };
}
