"""How often the receptionist would ask the language model: ``.venv/bin/python -m bench.model_share``.

The voice service asks the model only when the local parser is unsure of an answer
(``shared.services.voice.understand.unsure``). This reads every utterance of the understanding corpus
(tests/unit/understanding: the corpus cases and the everyday callers, the same ones bench.understanding
times) with the parser, as the dialog would, and reports the share that would go to the model, by what
was asked, with the utterances themselves (those are the turns where a caller hears a filler). Pure CPU,
no model and no network: it measures the gate, not the model.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter

from bench.understanding import caller_cases, load_corpus


def measure() -> dict:
    from shared.config import load_business_config
    from shared.domain.understanding import service_catalog
    from shared.services.voice.understand import unsure
    corpus = load_corpus()
    catalog = service_catalog(load_business_config(str(corpus.EXAMPLE_CONFIG)))
    cases = list(corpus.CASES) + caller_cases(corpus)
    asked: Counter = Counter()
    total: Counter = Counter()
    to_model: list[str] = []
    for case in cases:
        if not case.text.strip():
            continue  # silence: nothing to read
        u = corpus.parse_case(case, catalog)
        key = case.expecting or "anything"
        total[key] += 1
        if unsure(u, case.expecting, case.text):
            asked[key] += 1
            to_model.append(f"[{key}] {case.text}")
    return {"utterances": sum(total.values()), "to_model": sum(asked.values()),
            "by_question": {key: f"{asked[key]}/{total[key]}" for key in sorted(total)}, "sent": to_model}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    figures = measure()
    share = figures["to_model"] / figures["utterances"]
    print(f"{figures['to_model']} of {figures['utterances']} utterances ({share:.1%}) would go to the model")
    for key, ratio in figures["by_question"].items():
        print(f"  {key:12} {ratio}")
    for line in figures["sent"]:
        print(f"    {line}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)


if __name__ == "__main__":
    main()
