"""The outsider corpus: calls written from how customers talk, a simulated caller, and the runner that judges them."""
