// The player's own tally: boxes they checked and unchecked this visit, kept
// in localStorage so a reload doesn't lose it. A visit ends after half an hour
// away. Every tab on the board adds to the same tally.

const VISIT_GAP_MS = 30 * 60 * 1000;

export class Tally {
  // `onChange({checked, unchecked})` is called whenever the numbers change,
  // here or in another tab.
  constructor(slug, onChange) {
    this.key = `checkboxes:tally:${slug}`;
    this.onChange = onChange;
    this.memory = null;
    addEventListener("storage", (event) => {
      if (event.key === this.key) this.onChange(this.read());
    });
  }

  read() {
    const saved = this.load();
    if (!saved || Date.now() - saved.at > VISIT_GAP_MS) return { checked: 0, unchecked: 0 };
    return { checked: saved.checked, unchecked: saved.unchecked };
  }

  // One of the player's changes went through: 1 checked a box, 0 unchecked one.
  record(value) {
    const tally = this.read();
    if (value === 1) tally.checked++;
    else tally.unchecked++;
    this.save({ ...tally, at: Date.now() });
    this.onChange(tally);
  }

  load() {
    let saved = this.memory;
    try {
      saved = JSON.parse(localStorage.getItem(this.key)) || saved;
    } catch {
      // Storage blocked (privacy settings) or garbled: the in-page copy will do.
    }
    return isTally(saved) ? saved : null;
  }

  save(tally) {
    this.memory = tally;
    try {
      localStorage.setItem(this.key, JSON.stringify(tally));
    } catch {
      // Storage blocked or full: the tally lasts as long as the page.
    }
  }
}

function isTally(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    Number.isSafeInteger(value.checked) &&
    Number.isSafeInteger(value.unchecked) &&
    Number.isFinite(value.at)
  );
}
