"""rc.training: the one training loop; a population member equals a single training, and
both equal a plain autograd training of the same network."""
import math

import numpy as np
import pytest
import torch
from helpers import stripes
from torch.nn import functional as F

import rc
from rc.training import groups_to_train, members_at_once, population_groups, train_population

IMAGES = stripes()
# batch 16 over 54 training images: three full minibatches and a partial one per epoch
KW = dict(batch_size=16, max_epochs=25, patience=3)


def cfg(lr, noise, hidden, act, seed):
    return {"learning_rate": lr, "noise": noise, "n_hidden": hidden, "activation": act,
            "seed": seed}


# two members share the (16, relu) group; they stop at different epochs, for different
# reasons (early stopping at 22 and 9, max epochs for the others)
CONFIGS = [cfg(0.5, 0.2, 16, "relu", 1), cfg(0.05, 0.0, 16, "relu", 2),
           cfg(0.3, 0.4, 8, "tanh", 3), cfg(1.0, 0.1, 16, "sigmoid", 4)]


def single(c, images=IMAGES, **kw):
    dae = rc.DAE(64, c["n_hidden"], c["activation"], seed=c["seed"])
    hist = rc.train_dae(dae, images, learning_rate=c["learning_rate"], noise=c["noise"],
                        seed=c["seed"], progress=False, **{**KW, **kw})
    return dae, hist


def assert_same_run(a, b, atol=1e-5):
    (dae_a, h_a), (dae_b, h_b) = a, b
    assert (h_a.stopped, h_a.epochs, h_a.best_epoch) == (h_b.stopped, h_b.epochs, h_b.best_epoch)
    np.testing.assert_allclose(h_a.val_loss, h_b.val_loss, rtol=1e-5, atol=atol)
    np.testing.assert_allclose(h_a.train_loss, h_b.train_loss, rtol=1e-5, atol=atol)
    assert h_a.best_val_loss == pytest.approx(h_b.best_val_loss, rel=1e-5)
    for (k, p), q in zip(dae_a.state_dict().items(), dae_b.state_dict().values()):
        assert torch.allclose(p.cpu(), q.cpu(), atol=atol), k


@pytest.fixture(scope="module")
def population():
    """The four members, groups side by side (on a CPU only when asked for)."""
    return train_population(IMAGES, CONFIGS, progress=False, max_members=4, **KW)


def test_each_member_equals_the_single_trainer(population):
    assert len(population) == len(CONFIGS)
    for c, member in zip(CONFIGS, population):
        reference = single(c)
        assert_same_run(member, reference)
        assert member[1].config == reference[1].config  # order of results = order of configs
        assert member[1].device == reference[1].device == "cpu"
    stops = [h.stopped for _, h in population]
    assert "early stopping" in stops and "max epochs" in stops
    assert len({h.epochs for _, h in population}) >= 3


def test_results_are_trained_daes_with_their_best_weights(population):
    for c, (dae, hist) in zip(CONFIGS, population):
        assert isinstance(dae, rc.DAE) and not dae.training
        assert (dae.n_hidden, dae.activation) == (c["n_hidden"], c["activation"])
        assert hist.best_val_loss == min(hist.val_loss) < hist.val_loss[0]
        assert math.isnan(hist.train_loss[0]) and len(hist.val_loss) == hist.epochs + 1
        assert hist.config["n_train"] == 54 and hist.config["n_val"] == 6
        assert hist.seconds > 0
        if hist.stopped == "early stopping":
            assert hist.epochs - hist.best_epoch == KW["patience"]
            # the restored weights are the best epoch's, not the last one's
            final, _ = single(c, max_epochs=hist.best_epoch)
            for p, q in zip(dae.state_dict().values(), final.state_dict().values()):
                assert torch.allclose(p, q, atol=1e-5)


def test_splitting_groups_changes_nothing(population):
    assert population_groups(CONFIGS) == [[0, 1], [2], [3]]
    assert population_groups(CONFIGS, max_members=1) == [[0], [1], [2], [3]]
    split = train_population(IMAGES, CONFIGS[:2], max_members=1, progress=False, **KW)
    for a, b in zip(split, population[:2]):
        assert_same_run(a, b)


def test_a_diverging_member_does_not_disturb_the_others(population):
    wild = cfg(1e20, 0.1, 16, "relu", 5)
    configs = [CONFIGS[0], wild, CONFIGS[1]]  # all three in one group
    calls = []
    res = train_population(IMAGES, configs, progress=False, max_members=3,
                           on_member_done=lambda i, d, h: calls.append((i, d, h)), **KW)
    dae, hist = res[1]
    assert hist.stopped == "diverged" and hist.epochs == 1 and hist.best_epoch == 0
    assert math.isnan(hist.val_loss[1])
    init = rc.DAE(64, 16, "relu", seed=5)  # best weights = the initial ones, all finite
    for p, q in zip(dae.state_dict().values(), init.state_dict().values()):
        assert torch.equal(p, q)
    assert_same_run(res[0], population[0])
    assert_same_run(res[2], population[1])
    # the callback saw every member once, as it finished (the diverged one first)
    assert sorted(i for i, _, _ in calls) == [0, 1, 2] and calls[0][0] == 1
    for i, d, h in calls:
        assert d is res[i][0] and h is res[i][1] and h.stopped


def test_per_member_epoch_caps_and_zero_epochs():
    configs = [dict(CONFIGS[0], max_epochs=2), dict(CONFIGS[1], max_epochs=0), CONFIGS[2]]
    res = train_population(IMAGES, configs, progress=False, **{**KW, "max_epochs": 4})
    assert [(h.stopped, h.epochs) for _, h in res] == [
        ("max epochs", 2), ("max epochs", 0), ("max epochs", 4)]
    assert_same_run(res[0], single(CONFIGS[0], max_epochs=2))
    assert_same_run(res[1], single(CONFIGS[1], max_epochs=0))
    assert res[1][1].config["max_epochs"] == 0 and len(res[1][1].val_loss) == 1


def test_bad_input_raises_clear_errors():
    good = [CONFIGS[0]]
    with pytest.raises(ValueError, match="binary"):
        train_population(IMAGES * 0.5, good, progress=False)
    with pytest.raises(ValueError, match="shape"):
        train_population(IMAGES[None], good, progress=False)
    with pytest.raises(ValueError, match="empty"):
        train_population(IMAGES, [], progress=False)
    with pytest.raises(ValueError, match="activation"):
        train_population(IMAGES, [dict(CONFIGS[0], activation="softplus")], progress=False)
    for noise in (1.0, -0.1, "lots"):
        with pytest.raises(ValueError, match="noise"):
            train_population(IMAGES, [dict(CONFIGS[0], noise=noise)], progress=False)
    with pytest.raises(ValueError, match="learning_rate"):
        train_population(IMAGES, [dict(CONFIGS[0], learning_rate=0)], progress=False)
    with pytest.raises(ValueError, match="lacks"):
        train_population(IMAGES, [{"learning_rate": 0.1, "noise": 0.1}], progress=False)
    with pytest.raises(ValueError, match="seed"):
        train_population(IMAGES, [dict(CONFIGS[0], seed=1.5)], progress=False)
    with pytest.raises(ValueError, match="n_hidden"):
        train_population(IMAGES, [dict(CONFIGS[0], n_hidden=0)], progress=False)
    with pytest.raises(ValueError, match="list of dicts"):
        train_population(IMAGES, CONFIGS[0], progress=False)
    with pytest.raises(ValueError, match="max_members"):
        train_population(IMAGES, good, max_members=0, progress=False)
    with pytest.raises(ValueError, match="split"):
        train_population(IMAGES[:1], good, progress=False)


def autograd_reference(c, images=IMAGES, batch_size=16, max_epochs=5):
    """Plain autograd + torch.optim.SGD training of an rc.DAE, written independently of
    rc.training, with the same random draws (no early stopping: fixed epochs)."""
    dae = rc.DAE(64, c["n_hidden"], c["activation"], seed=c["seed"])
    x = torch.from_numpy(images.reshape(len(images), -1))
    n_train = int(len(x) * 0.9)
    x_train, x_val = x[:n_train], x[n_train:]
    gen = torch.Generator().manual_seed(c["seed"])
    opt = torch.optim.SGD(dae.parameters(), lr=c["learning_rate"])
    rc.salt_and_pepper(x_val, c["noise"], gen)  # the validation draw before training
    for _ in range(max_epochs):
        order = torch.randperm(n_train, generator=gen)
        for i in range(0, n_train, batch_size):
            batch = x_train[order[i:i + batch_size]]
            noisy = rc.salt_and_pepper(batch, c["noise"], gen)
            loss = F.binary_cross_entropy_with_logits(dae.logits(noisy), batch,
                                                      reduction="sum") / len(batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
        rc.salt_and_pepper(x_val, c["noise"], gen)  # the epoch's validation draw
    return dae


@pytest.mark.parametrize("c", CONFIGS, ids=lambda c: c["activation"])
def test_hand_written_gradients_equal_autograd(c):
    """The batched step's gradients are autograd's: same weights after 5 epochs."""
    reference = autograd_reference(c)
    [(dae, hist)] = train_population(IMAGES, [c], batch_size=16, max_epochs=5,
                                     patience=100, progress=False)
    assert hist.epochs == 5 and hist.stopped == "max epochs"
    # the kept weights are the best epoch's; compare with a reference of that length
    if hist.best_epoch != 5:
        reference = autograd_reference(c, max_epochs=hist.best_epoch)
    for p, q in zip(dae.state_dict().values(), reference.state_dict().values()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)


def test_train_dae_starts_from_the_given_weights_and_trains_in_place():
    dae = rc.DAE(64, 16, "relu", seed=1)
    with torch.no_grad():
        dae.decoder.bias.fill_(0.5)  # not what DAE(seed=1) would start from
    fresh = rc.DAE(64, 16, "relu", seed=1)
    h1 = rc.train_dae(dae, IMAGES, learning_rate=0.1, noise=0.1, seed=1, progress=False, **KW)
    h2 = rc.train_dae(fresh, IMAGES, learning_rate=0.1, noise=0.1, seed=1, progress=False, **KW)
    assert h1.val_loss[0] != h2.val_loss[0]
    assert not torch.equal(dae.decoder.bias, fresh.decoder.bias)


@pytest.mark.slow  # trains padded populations
def test_padded_hidden_sizes_train_as_the_unpadded_ones():
    configs = [cfg(0.3, 0.2, 16, "sigmoid", 1), cfg(0.3, 0.1, 8, "sigmoid", 2),
               cfg(0.2, 0.0, 4, "relu", 3), cfg(0.2, 0.3, 16, "relu", 4)]
    assert population_groups(configs, grouping="activation") == [[0, 1], [2, 3]]
    assert population_groups(configs, grouping="all") == [[2, 3, 0, 1]]  # relu first
    plain = train_population(IMAGES, configs, progress=False, max_members=4, **KW)
    for grouping in ("activation", "all"):
        padded = train_population(IMAGES, configs, progress=False, grouping=grouping,
                                  max_members=4, **KW)
        for (dae_a, h_a), (dae_b, h_b), c in zip(plain, padded, configs):
            assert dae_b.n_hidden == c["n_hidden"]  # handed back at its own width
            assert_same_run((dae_a, h_a), (dae_b, h_b), atol=1e-4)
    with pytest.raises(ValueError, match="grouping"):
        train_population(IMAGES, configs, progress=False, grouping="width", **KW)


def test_a_deadline_stops_training_and_keeps_the_finished_members():
    configs = [cfg(0.05, 0.0, 16, "relu", 2), dict(CONFIGS[0], max_epochs=0)]  # one group
    done = []
    with pytest.raises(rc.training.DeadlineReached):
        train_population(IMAGES, configs, progress=False, deadline=0.0, max_members=2,
                         on_member_done=lambda i, d, h: done.append((i, h.epochs)), **KW)
    assert done == [(1, 0)]  # the zero-epoch member finished; the other was dropped


def _stopped_after_every_epoch(c, path):
    """Train ``c`` with a checkpoint written after every epoch and a deadline that stops
    the process after every epoch, restarting it (on a fresh DAE) until it finishes."""
    for restarts in range(KW["max_epochs"] + 2):
        try:
            return (*single(c, checkpoint=path, checkpoint_seconds=0, deadline=0.0),
                    restarts)
        except rc.training.DeadlineReached:
            assert path.exists()
    raise AssertionError("the training never finished")


@pytest.mark.slow  # trains four members epoch by epoch
@pytest.mark.parametrize("c", CONFIGS, ids=[f"member{i}" for i in range(len(CONFIGS))])
def test_a_training_stopped_after_every_epoch_resumes_to_the_same_result(tmp_path, c):
    reference_dae, reference = single(c)
    path = tmp_path / "run.checkpoint"
    dae, hist, restarts = _stopped_after_every_epoch(c, path)
    assert restarts == reference.epochs  # stopped after epoch 0 (the first validation),
    # 1, ..., epochs - 1; the last run trained the last epoch and stopped by itself
    assert (hist.stopped, hist.epochs, hist.best_epoch, hist.best_val_loss) == (
        reference.stopped, reference.epochs, reference.best_epoch, reference.best_val_loss)
    assert hist.val_loss == reference.val_loss
    np.testing.assert_array_equal(hist.train_loss, reference.train_loss)  # NaN first
    for (k, p), q in zip(reference_dae.state_dict().items(), dae.state_dict().values()):
        assert torch.equal(p, q), k  # bit for bit
    assert not path.exists()  # removed once the training ended


def test_a_checkpoint_is_resumed_only_by_its_own_training(tmp_path):
    path = tmp_path / "run.checkpoint"
    with pytest.raises(rc.training.DeadlineReached):
        single(CONFIGS[0], checkpoint=path, checkpoint_seconds=0, deadline=0.0)
    with pytest.raises(ValueError, match="belongs to another training"):
        single(dict(CONFIGS[0], learning_rate=0.4), checkpoint=path)
    with pytest.raises(ValueError, match="belongs to another training"):
        single(CONFIGS[0], images=IMAGES[::-1], checkpoint=path)
    path.write_bytes(b"not an npz")
    with pytest.raises(rc.storage.CorruptFileError, match="remove it"):
        single(CONFIGS[0], checkpoint=path)
    with pytest.raises(ValueError, match="single training"):
        train_population(IMAGES, CONFIGS[:2], progress=False, checkpoint=path, **KW)
    with pytest.raises(ValueError, match="checkpoint_seconds"):
        single(CONFIGS[0], checkpoint=path, checkpoint_seconds=-1)
    with pytest.raises(ValueError, match="folder"):
        single(CONFIGS[0], checkpoint=tmp_path)
    # without a checkpoint nothing is written; a long interval writes nothing either
    single(CONFIGS[0], checkpoint=tmp_path / "other", checkpoint_seconds=1e9)
    assert not (tmp_path / "other").exists()


def test_reversed_images_train_like_a_copy():
    c = CONFIGS[0]
    assert_same_run(single(c, images=IMAGES[::-1]), single(c, images=IMAGES[::-1].copy()),
                    atol=0)


def test_stopping_rule_is_the_papers_early_stopping():
    from rc.training import stopping_rule

    nan, inf = float("nan"), float("inf")
    # a new best is kept and training goes on
    assert stopping_rule(3, 1.0, 5.0, 6.0, 2, patience=10) == (True, "")
    # no improvement: go on until `patience` epochs have passed since the best one
    assert stopping_rule(11, 1.0, 7.0, 6.0, 2, patience=10) == (False, "")
    assert stopping_rule(12, 1.0, 7.0, 6.0, 2, patience=10) == (False, "early stopping")
    assert stopping_rule(12, 1.0, 6.0, 6.0, 2, patience=10) == (False, "early stopping")
    # a non-finite loss, training or validation, stops at once
    assert stopping_rule(1, nan, 5.0, inf, 0, patience=10) == (False, "diverged")
    assert stopping_rule(1, 1.0, inf, inf, 0, patience=10) == (False, "diverged")
    # the first finite epoch always improves on the initial infinite best
    assert stopping_rule(1, 1.0, 9.0, inf, 0, patience=1) == (True, "")
    # past the wall-time limit: stop, but keep an improvement made in this epoch
    assert stopping_rule(4, 1.0, 5.0, 6.0, 2, patience=10, out_of_time=True) == (True,
                                                                                "time limit")


def _same_bits(a, b) -> None:
    """Two trainings with the same weights and histories, bit for bit."""
    (dae_a, h_a), (dae_b, h_b) = a, b
    np.testing.assert_equal(h_a.to_dict() | {"seconds": 0}, h_b.to_dict() | {"seconds": 0})
    for p, q in zip(dae_a.state_dict().values(), dae_b.state_dict().values()):
        assert torch.equal(p, q)


@pytest.mark.slow  # trains populations: about 20 s
def test_on_a_cpu_a_member_is_the_same_bits_whatever_it_trains_with():
    """The default on a CPU: one member at a time, so that a stored run depends on its own
    configuration only (not on the others of the population, their order or grouping)."""
    assert members_at_once("cpu") == 1 and members_at_once("cpu", 3) == 3
    together = train_population(IMAGES, CONFIGS, progress=False, **KW)
    backwards = train_population(IMAGES, CONFIGS[::-1], progress=False, grouping="all", **KW)
    for i, c in enumerate(CONFIGS):
        alone = train_population(IMAGES, [c], progress=False, **KW)[0]
        _same_bits(together[i], alone)
        _same_bits(backwards[len(CONFIGS) - 1 - i], alone)


def test_whole_groups_of_the_plan_are_trained_for_a_missing_member(monkeypatch):
    assert groups_to_train(CONFIGS, [1, 3], device="cpu") == [1, 3]
    # where members share batched products (a GPU), a missing member brings its group
    monkeypatch.setattr(rc.training, "members_at_once", lambda device, m=None: None)
    assert groups_to_train(CONFIGS, [1]) == [0, 1]
    assert groups_to_train(CONFIGS, [2, 3]) == [2, 3]
    assert groups_to_train(CONFIGS, [3], grouping="all") == [0, 1, 2, 3]
