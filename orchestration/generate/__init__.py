"""Sample data: a realistic French kitchenware retailer's exports, with ground truth.

``generate`` writes, for a population of persons, the files each source system would export
(see ``orchestration.exports`` for the formats) under ``landing/<source>/``, and what really happened
under ``truth/``: ``identities.csv`` (which person each identity-bearing record belongs to),
``persons.csv`` and ``journeys.csv`` (every interaction, for checking KPIs).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from orchestration.generate.noise import Messiness
from orchestration.generate.simulate import DEFAULT_END_DATE, GenerationStats, Simulation


def generate(
    landing_dir: Path,
    truth_dir: Path,
    customers: int,
    seed: int = 42,
    days: int = 365,
    end_date: date = DEFAULT_END_DATE,
    messiness: float = 1.0,
    progress: bool = False,
) -> GenerationStats:
    """Generate ``customers`` persons' exports; deterministic for the same arguments."""
    if customers < 1 or days < 1:
        raise ValueError("customers and days must be at least 1")
    simulation = Simulation(
        landing_dir,
        truth_dir,
        seed=seed,
        days=days,
        end_date=end_date,
        messiness=Messiness().scaled(messiness),
    )
    return simulation.run(customers, progress=progress)


__all__ = ["DEFAULT_END_DATE", "GenerationStats", "Messiness", "generate"]
