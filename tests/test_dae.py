"""The denoising autoencoder: architecture, corruption, loss, training, persistence."""
import math

import numpy as np
import pytest
import torch
from helpers import stripes

import rc
from rc.dae import bce_loss


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_dae_maps_batches_to_bernoulli_means(activation):
    dae = rc.DAE(64, 20, activation, seed=0)
    assert isinstance(dae.encoder, torch.nn.Linear) and isinstance(dae.decoder, torch.nn.Linear)
    assert dae.encoder.in_features == 64 and dae.decoder.out_features == 64
    with torch.no_grad():
        mu = dae(torch.rand(5, 64))
    assert mu.shape == (5, 64)
    assert float(mu.min()) > 0 and float(mu.max()) < 1


def test_seeded_initialisation_is_reproducible():
    a, b, c = rc.DAE(64, 20, seed=1), rc.DAE(64, 20, seed=1), rc.DAE(64, 20, seed=2)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, pc)


def test_glorot_initialisation_matches_its_definition():
    a = rc.DAE(64, 20, seed=1, init="glorot")
    bound = math.sqrt(6 / (64 + 20))  # Glorot uniform for both layers, zero biases
    for layer in (a.encoder, a.decoder):
        w = layer.weight.detach().abs()
        assert float(w.max()) <= bound and float(w.max()) > 0.9 * bound
        assert not layer.bias.detach().any()


@pytest.mark.parametrize("activation, scale", [("relu", math.sqrt(12)), ("tanh", math.sqrt(6)),
                                               ("sigmoid", 4 * math.sqrt(6))])
def test_brainstorm_initialisation_matches_its_definition(activation, scale):
    """The authors' scheme: uniform in +-scale/sqrt(fan_in + fan_out), the scale by the
    layer's activation (1 for the linear output layer), Gaussian biases with std 0.1."""
    d, h = 784, 500
    dae = rc.DAE(d, h, activation, seed=3)  # the default scheme
    for layer, s in ((dae.encoder, scale), (dae.decoder, 1.0)):
        w = layer.weight.detach().numpy().ravel()
        bound = s / math.sqrt(d + h)
        assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
        assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound  # uniform's std
    biases = np.concatenate([dae.encoder.bias.detach().numpy(),
                             dae.decoder.bias.detach().numpy()])
    assert abs(biases.std() - 0.1) < 0.01 and abs(biases.mean()) < 0.01
    with pytest.raises(ValueError, match="init"):
        rc.DAE(d, h, activation, init="xavier")


def test_dae_rejects_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="activation"):
        rc.DAE(64, 20, "softplus")
    with pytest.raises(ValueError, match="n_hidden"):
        rc.DAE(64, 0)
    with pytest.raises(ValueError, match="64 pixels"):
        rc.DAE(64, 20)(torch.rand(3, 50))


def test_salt_and_pepper_statistics():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(200_000)
    y = rc.salt_and_pepper(x, 0.4, g)
    # corrupted pixels of a zero image are set to 1 with probability 1/2
    assert abs(float(y.mean()) - 0.2) < 0.005
    y1 = rc.salt_and_pepper(torch.ones(200_000), 0.4, g)
    assert abs(float(1 - y1.mean()) - 0.2) < 0.005
    assert torch.equal(rc.salt_and_pepper(x, 0.0, g), x)


def test_bce_loss_is_summed_over_pixels_and_averaged_over_batch():
    logits = torch.randn(4, 10)
    target = (torch.rand(4, 10) < 0.5).float()
    mu = torch.sigmoid(logits)
    manual = -(target * torch.log(mu) + (1 - target) * torch.log(1 - mu)).sum(1).mean()
    assert torch.allclose(bce_loss(logits, target), manual, atol=1e-5)


def test_training_lowers_the_loss_and_is_deterministic():
    imgs = stripes()
    runs = []
    for _ in range(2):
        dae = rc.DAE(64, 32, "relu", seed=3)
        hist = rc.train_dae(dae, imgs, learning_rate=0.1, noise=0.2, max_epochs=30,
                            seed=5, progress=False)
        runs.append((dae, hist))
    (d1, h1), (d2, h2) = runs
    assert h1.val_loss == h2.val_loss and h1.train_loss[1:] == h2.train_loss[1:]
    assert torch.equal(d1.encoder.weight, d2.encoder.weight)
    assert h1.best_val_loss < 0.7 * h1.val_loss[0]
    assert len(h1.val_loss) == h1.epochs + 1
    assert h1.config["n_train"] == 54 and h1.config["n_val"] == 6


def test_best_weights_are_restored_and_patience_respected():
    imgs = stripes()
    dae = rc.DAE(64, 32, "relu", seed=0)
    hist = rc.train_dae(dae, imgs, learning_rate=0.05, noise=0.0, max_epochs=40,
                        patience=2, seed=0, progress=False)
    if hist.stopped == "early stopping":
        assert hist.epochs - hist.best_epoch == 2
    assert hist.best_val_loss == min(hist.val_loss)
    # with p = 0 the validation loss of the restored weights is recomputable exactly
    x = torch.from_numpy(imgs.reshape(60, 64))[54:]
    with torch.no_grad():
        again = float(bce_loss(dae.logits(x), x))
    assert again == pytest.approx(hist.best_val_loss, rel=1e-5)


def test_divergence_is_caught_and_finite_weights_are_kept():
    dae = rc.DAE(64, 32, "relu", seed=0)
    hist = rc.train_dae(dae, stripes(), learning_rate=1e6, noise=0.1, max_epochs=20,
                        seed=0, progress=False)
    assert all(torch.isfinite(p).all() for p in dae.parameters())
    assert math.isfinite(hist.best_val_loss)


def test_training_rejects_bad_input():
    dae = rc.DAE(64, 8)
    with pytest.raises(ValueError, match="binary"):
        rc.train_dae(dae, np.full((10, 8, 8), 0.5), learning_rate=0.1, noise=0.1)
    with pytest.raises(ValueError, match="49 pixels but the DAE expects 64"):
        rc.train_dae(dae, np.zeros((10, 7, 7)), learning_rate=0.1, noise=0.1)
    with pytest.raises(ValueError, match="noise"):
        rc.train_dae(dae, stripes(), learning_rate=0.1, noise=1.5)
    with pytest.raises(ValueError, match="learning_rate"):
        rc.train_dae(dae, stripes(), learning_rate=-1, noise=0.1)
    with pytest.raises(ValueError, match="cannot be split"):
        rc.train_dae(dae, stripes(1), learning_rate=0.1, noise=0.1)
    with pytest.raises(ValueError, match="rc.DAE"):
        rc.train_dae(torch.nn.Linear(64, 64), stripes(), learning_rate=0.1, noise=0.1)


def test_save_and_load_round_trip(tmp_path):
    dae = rc.DAE(64, 16, "tanh", seed=0)
    hist = rc.train_dae(dae, stripes(), learning_rate=0.1, noise=0.1, max_epochs=3,
                        seed=0, progress=False)
    path = rc.save_dae(tmp_path / "m.npz", dae, hist, dataset="stripes")
    loaded, info = rc.load_dae(path, device="cpu")
    assert loaded.config == dae.config
    x = torch.rand(4, 64)
    assert torch.equal(loaded(x), dae(x))
    assert info["history"]["val_loss"] == hist.val_loss
    assert info["meta"] == {"dataset": "stripes"}
    with pytest.raises(FileNotFoundError):
        rc.load_dae(tmp_path / "missing.npz")
