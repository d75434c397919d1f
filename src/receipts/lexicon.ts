import { readFileSync } from "node:fs";
import wordListPath from "word-list";

/**
 * Characters Tesseract confuses on receipt print, each with what it may really be. Only
 * single-character swaps are tried, so a correction never invents a word the print does not
 * nearly spell.
 */
const LOOK_ALIKES: Record<string, string> = {
  // Kept to the swaps seen in receipt print (thin or worn strokes, serif fonts); wider tables turned
  // proper names into words ("MARCO" → "NARCO").
  I: "L",
  L: "I",
  O: "U",
  U: "O",
  F: "P",
  P: "F",
  C: "G",
  G: "C",
};

let words: Set<string> | undefined;

/**
 * The English word list (the `word-list` package, ~274,000 words), loaded on first use
 * and kept: about 20 MB of heap, read in ~0.2 s; a lookup then costs a few microseconds.
 */
function lexicon(): Set<string> {
  words ??= new Set(readFileSync(wordListPath, "utf8").toUpperCase().split("\n"));
  return words;
}

/**
 * The dictionary word an OCR-damaged word was meant to be, or the word unchanged. A word is
 * corrected only when it is not itself a word, is at least five letters long (short words have
 * too many neighbours), and exactly one single look-alike swap ({@link LOOK_ALIKES}) turns it into a
 * dictionary word: "BAKERLES" → "BAKERIES", "CONFECTIUNERY" → "CONFECTIONERY". Brand and local
 * names that are not English ("SANYU", "UNIHAKKA", "Walgreens") have no such neighbour and are
 * kept. The letter case of the original is kept.
 */
export function correctWord(word: string): string {
  if (word.length < 5 || !/^[A-Za-z]+$/.test(word)) return word;
  const upper = word.toUpperCase();
  const dict = lexicon();
  if (dict.has(upper)) return word;
  const found = new Set<string>();
  for (let i = 0; i < upper.length; i++) {
    for (const alt of LOOK_ALIKES[upper[i]!] ?? "") {
      const candidate = upper.slice(0, i) + alt + upper.slice(i + 1);
      if (dict.has(candidate)) found.add(candidate);
    }
  }
  if (found.size !== 1) return word;
  const fixed = [...found][0]!;
  const lower = word === word.toLowerCase();
  const capitalised = !lower && word.slice(1) === word.slice(1).toLowerCase();
  return lower ? fixed.toLowerCase() : capitalised ? fixed[0] + fixed.slice(1).toLowerCase() : fixed;
}

/** {@link correctWord} applied to each word of a business name, punctuation left in place. */
export function correctName(name: string): string {
  return name.replace(/[A-Za-z]+/g, (w) => correctWord(w));
}
