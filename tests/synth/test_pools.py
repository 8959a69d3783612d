"""pools.py: the in-domain and held-out pools, checked before rendering, and which source
renders a part in each track of a domain."""
import pytest

from midi_extractor.synth import sources
from midi_extractor.synth.fluid import SynthError
from midi_extractor.synth.pools import domain_pools, pick_source
from midi_extractor.synth.songs import Part


def test_pools_are_resolved_in_order_and_kept_apart():
    pool, ood = domain_pools(None, sources.DEFAULT_POOL, sources.DEFAULT_OOD)
    assert [s.name for s in pool] == list(sources.DEFAULT_POOL)
    assert [s.name for s in ood] == list(sources.DEFAULT_OOD)
    with pytest.raises(SynthError, match="held out of dataset.sound_sources; both list TimGM6mb"):
        domain_pools(None, ["TimGM6mb"], ["TimGM6mb"])
    with pytest.raises(SynthError, match="unknown sound source.*NoSuchFont"):
        domain_pools(None, ["NoSuchFont"], [])
    with pytest.raises(SynthError, match="dataset.sound_sources is empty"):
        domain_pools(None, [], [])
    with pytest.raises(SynthError, match="no source for pitched stems"):
        domain_pools(None, ["AVL_BlackPearl"], [])


def test_sources_rotate_over_the_tracks_of_a_domain():
    pool, _ = domain_pools(None, sources.DEFAULT_POOL, [])
    drums, bass = Part("drums", 0, True), Part("bass", 33, False)
    picked = [pick_source(pool, drums, k, seed=3).name for k in range(4)]
    assert sorted(picked) == sorted(s.name for s in pool if s.drums)  # each drum source once in 4 tracks
    melodic = [pick_source(pool, bass, k, seed=3) for k in range(3)]
    assert all(s.melodic for s in melodic) and len({s.name for s in melodic}) == 3
    assert pick_source(pool, bass, 1, seed=3) == melodic[1]  # same position, same source
    assert pick_source([sources.SOURCES["AVL_BlackPearl"]], bass, 0, seed=3) is None
