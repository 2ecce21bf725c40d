"""The paper's experiments as cached computations: what every notebook calls.

``Experiment(profile)`` bundles a :class:`~rc.config.Profile`, the artifact
:class:`~rc.artifacts.Store` of that profile and a device. Each method computes its
result once (training DAEs, running RC, random searches) and later calls, in this or
another notebook, load it from ``results/<profile>/``.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from .artifacts import Store, provenance, results_dir
from .clustering import reconstruction_clustering
from .config import Profile, epoch_cap, get_profile
from .dae import DAE, resolve_device, train_dae, train_split
from .datasets import dataset_info, load_dataset
from .population import train_population
from .paper import TABLE1, TABLE2
from .search import search_configs

#: training split and E-step of each table: 1 = single-object training, soft RC;
#: 2 = multi-object training, hard RC.
TABLES = {1: ("train_single", "soft"), 2: ("train_multi", "hard")}
#: Iterations shown in the Fig. 5 style plots.
SHOWN_ITERATIONS = (0, 1, 2, 3, 5, 7, 10)


def shown_iterations(n_iters: int) -> list[int]:
    """The iterations of :data:`SHOWN_ITERATIONS` that a run of ``n_iters`` has, plus its last."""
    return sorted({t for t in SHOWN_ITERATIONS if t <= n_iters} | {n_iters})


def example_ranks(n: int, count: int = 6) -> list[int]:
    """Sorted-score ranks of the examples shown (0, 200, ..., 999 for n = 1000)."""
    return sorted({min(n - 1, int(round(i * n / (count - 1)))) for i in range(count)})


class Experiment:
    """All experiments of one profile, cached under ``results/<profile>/``."""

    def __init__(self, profile: str | Profile = "default", recompute: bool | float = False,
                 device=None, progress: bool = True):
        self.profile = get_profile(profile)
        self.device = resolve_device(device)
        self.store = Store(results_dir() / self.profile.name, recompute=recompute)
        self.progress = progress

    def __repr__(self) -> str:
        return f"Experiment(profile={self.profile.name!r}, device={str(self.device)!r})"

    # -------------------------------------------------------------- data
    def train_images(self, dataset: str, split: str, limit: int | None = None) -> np.ndarray:
        """The first images of a training split (capped by ``limit``)."""
        size = dataset_info(dataset).split_sizes[split]
        n = size if limit is None else min(size, limit)
        return load_dataset(dataset, split, seed=self.profile.seed, n=n,
                            cache=self.profile.cache_data)[0]

    def test_data(self, dataset: str) -> tuple[np.ndarray, np.ndarray]:
        """The scored test images and their groups (first 1,000, or all 120, or fewer)."""
        n = dataset_info(dataset).n_scored
        if self.profile.n_test is not None:
            n = min(n, self.profile.n_test)
        return load_dataset(dataset, "test", seed=self.profile.seed, n=n,
                            cache=self.profile.cache_data)

    def provenance(self, **extra) -> dict:
        return provenance(self.profile.name, self.profile.seed, str(self.device), **extra)

    # -------------------------------------------------------------- training
    def _train(self, dataset: str, split: str, config: dict, limit: int | None,
               tflop: float | None, seed: int, **meta):
        images = self.train_images(dataset, split, limit)
        d = images.shape[1] * images.shape[2]
        n_train = train_split(len(images), 0.1)
        epochs = epoch_cap(tflop, self.profile.max_epochs, d, config["n_hidden"], n_train)
        dae = DAE(d, config["n_hidden"], config["activation"], seed=seed)
        hist = train_dae(dae, images, learning_rate=config["learning_rate"],
                         noise=config["noise"], max_epochs=epochs,
                         patience=self.profile.patience, seed=seed, device=self.device,
                         progress=self.progress)
        meta = {"dataset": dataset, "split": split, "n_images": len(images), **meta,
                "provenance": self.provenance(train_seconds=hist.seconds)}
        return dae, hist, meta

    def table_config(self, dataset: str, table: int = 1) -> dict:
        """The DAE configuration behind Table ``table``: the paper's, or our search's best."""
        if self.profile.tables_from_search:
            best = max(self.search(dataset, table), key=lambda r: r["score"])
            return {**best["config"], "seed": best["seed"], "run": best["run"],
                    "source": f"our search, run {best['run']}"}
        paper = (TABLE1 if table == 1 else TABLE2)[dataset]
        return {"learning_rate": paper.learning_rate, "n_hidden": paper.n_hidden,
                "activation": paper.activation, "noise": paper.noise,
                "seed": self.profile.seed, "source": f"paper, Table {table}"}

    def table_dae(self, dataset: str, table: int = 1) -> tuple[DAE, dict]:
        """The trained DAE of Table 1 (single-object) or Table 2 (multi-object) for a data set.

        With ``tables_from_search`` it is the best search run, retrained from its seed
        (search runs keep no weights), else the paper's configuration.
        """
        _check_table(dataset, table)
        cfg = self.table_config(dataset, table)
        p = self.profile
        limit, tflop = ((p.search_train_limit, p.search_tflop) if p.tables_from_search
                        else (p.train_limit, p.train_tflop))
        return self.store.dae(
            f"daes/table{table}-{dataset}.pt",
            lambda: self._train(dataset, TABLES[table][0], cfg, limit, tflop, cfg["seed"],
                                source=cfg["source"]),
            device=self.device)

    # -------------------------------------------------------------- RC evaluation
    def evaluate(self, dataset: str, k: int | None = None, table: int = 1,
                 e_step: str | None = None) -> dict:
        """RC with the table's DAE on the scored test images: per-image scores per iteration.

        Returns arrays ``ami`` and ``confidence`` (N, T+1) and ``log_likelihood``
        (N, 2T+1), plus ``meta``. ``k`` defaults to the data set's K; ``e_step`` to soft
        for Table 1 and hard for Table 2.
        """
        _check_table(dataset, table)
        k = dataset_info(dataset).k if k is None else int(k)
        e_step = e_step or TABLES[table][1]
        name = f"rc/table{table}-{dataset}-k{k}-{e_step}.npz"

        def compute():
            dae, info = self.table_dae(dataset, table)
            images, groups = self.test_data(dataset)
            t = time.perf_counter()
            res = reconstruction_clustering(dae, images, k=k, n_iters=self.profile.n_iters,
                                            e_step=e_step, seed=self.profile.seed,
                                            groups=groups, progress=self.progress)
            return {"ami": res.ami, "confidence": res.confidence,
                    "log_likelihood": res.log_likelihood,
                    "meta": {"dataset": dataset, "k": k, "table": table, "e_step": e_step,
                             "n_iters": self.profile.n_iters, "n_images": len(images),
                             "dae": info["meta"], "rc_seconds": time.perf_counter() - t,
                             "provenance": self.provenance()}}
        return self.store.arrays(name, compute)

    def score_of(self, dataset: str, table: int = 1, k: int | None = None) -> float:
        """Mean final AMI (the paper's 'score') of a table's DAE."""
        return float(np.mean(self.evaluate(dataset, k=k, table=table)["ami"][:, -1]))

    def k_sweep(self, datasets=None) -> dict:
        """Mean final AMI for every data set and K of the profile (Fig. 4a)."""
        datasets = datasets or self.profile.datasets
        return {ds: {k: self.score_of(ds, 1, k) for k in self.profile.ks} for ds in datasets}

    def examples(self, dataset: str, table: int = 1, k: int | None = None,
                 count: int = 6) -> dict:
        """Full RC histories of ``count`` test images spread over the score ranking (Fig. 5).

        Re-runs RC on the chosen images with their image ids, so the runs are exactly
        those of :meth:`evaluate`, and keeps gamma after every iteration.
        """
        k = dataset_info(dataset).k if k is None else int(k)
        e_step = TABLES[table][1]
        name = f"examples/table{table}-{dataset}-k{k}.npz"

        def compute():
            ev = self.evaluate(dataset, k=k, table=table)
            final = ev["ami"][:, -1]
            order = np.argsort(-final, kind="stable")
            ranks = example_ranks(len(order), count)
            ids = order[ranks]
            dae, _ = self.table_dae(dataset, table)
            images, groups = self.test_data(dataset)
            res = reconstruction_clustering(dae, images[ids], k=k, e_step=e_step,
                                            n_iters=self.profile.n_iters,
                                            seed=self.profile.seed, groups=groups[ids],
                                            image_ids=ids, keep_history=True)
            return {"ids": ids, "ranks": np.array(ranks), "images": images[ids],
                    "groups": groups[ids], "gamma_history": res.gamma_history,
                    "log_likelihood": res.log_likelihood, "ami": res.ami,
                    "meta": {"dataset": dataset, "k": k, "table": table,
                             "provenance": self.provenance()}}
        return self.store.arrays(name, compute)

    # -------------------------------------------------------------- random searches
    def _runs(self, dataset: str, table: int, kind: str) -> list[dict]:
        """The runs of a random search (``kind="search"``) or of the loss-vs-score study
        (``kind="loss"``): one JSON record per run under ``{kind}/table{t}-{dataset}/``.

        Runs not stored yet are trained together as a population (grouped by hidden
        size and activation, :func:`rc.population.train_population`); each is scored
        with RC and saved as soon as it finishes, so an interrupted search resumes
        without losing or redoing finished runs.
        """
        _check_table(dataset, table)
        p = self.profile
        if kind == "search":
            configs = search_configs(p.search_runs, p.seed + 100 * table)
        else:
            configs = search_configs(p.loss_runs, p.seed, kind="loss")
        folder = f"{kind}/table{table}-{dataset}"
        names = [f"{folder}/run{i:03d}.json" for i in range(len(configs))]
        todo = [i for i, name in enumerate(names) if not self.store.exists(name)]
        if todo:
            split, e_step = TABLES[table]
            images = self.train_images(dataset, split, p.search_train_limit)
            d, n_train = images.shape[1] * images.shape[2], train_split(len(images), 0.1)
            members = [{**configs[i], "max_epochs": epoch_cap(
                p.search_tflop, p.max_epochs, d, configs[i]["n_hidden"], n_train)}
                for i in todo]
            test, groups = self.test_data(dataset)

            def finished(j, dae, hist):
                run = todo[j]
                t = time.perf_counter()
                res = reconstruction_clustering(dae, test, k=dataset_info(dataset).k,
                                                n_iters=p.n_iters, e_step=e_step,
                                                seed=p.seed, groups=groups)
                self.store.write_json(names[run], {
                    "run": run, "kind": kind, "dataset": dataset, "table": table,
                    "config": {k: configs[run][k] for k in
                               ("learning_rate", "noise", "n_hidden", "activation")},
                    "seed": configs[run]["seed"], "score": float(np.mean(res.ami[:, -1])),
                    "best_val_loss": hist.best_val_loss, "epochs": hist.epochs,
                    "best_epoch": hist.best_epoch, "stopped": hist.stopped,
                    "train_seconds": hist.seconds, "rc_seconds": time.perf_counter() - t,
                    "n_images": len(images), "n_test": len(test),
                    "provenance": self.provenance()})

            train_population(images, members, patience=p.patience, device=self.device,
                             progress=self.progress, on_member_done=finished)
        return [self.store.json(name, lambda: None) for name in names]

    def search(self, dataset: str, table: int = 1) -> list[dict]:
        """The random search of Appendix B (Table 1: single-object training, soft RC;
        Table 2: multi-object training, hard RC); one record per run, resumable."""
        return self._runs(dataset, table, "search")

    def loss_vs_score(self, dataset: str) -> list[dict]:
        """Fig. 6a: DAEs with 250 ReLU units, p = 0.3, random learning rates and seeds."""
        return self._runs(dataset, 1, "loss")

    # -------------------------------------------------------------- other figures
    def predictability(self, dataset: str = "shapes", hide: float = 0.3,
                       n_images: int = 200) -> dict:
        """Fig. 1c: does the DAE fill in hidden pixels of an object from that object only?

        For each object of the first ``n_images`` test images, a random ``hide`` fraction
        of its pixels is removed. The Table 1 DAE then sees (a) the rest of that object
        alone, (b) the other objects alone (the object itself absent), (c) nothing. The
        mean predicted probability on the hidden pixels is recorded for each input.
        """
        def compute():
            dae, _ = self.table_dae(dataset, 1)
            images, groups = self.test_data(dataset)
            images, groups = images[:n_images], groups[:n_images]
            rng = np.random.default_rng(self.profile.seed)
            rows = []  # (image index, object label, mask, input a, input b)
            for i, (img, grp) in enumerate(zip(images, groups)):
                for label in np.unique(grp[grp > 0]):
                    own = grp == label
                    if own.sum() < 4:
                        continue
                    mask = own & (rng.random(own.shape) < hide)
                    if not mask.any():
                        continue
                    alone = (own & ~mask).astype(np.float32)
                    others = ((img > 0) & (grp != label) & ~own).astype(np.float32)
                    others[mask] = 0
                    rows.append((i, label, mask, alone, others))
            masks = np.array([r[2] for r in rows])
            a = np.array([r[3] for r in rows])
            b = np.array([r[4] for r in rows])
            d = a.shape[1] * a.shape[2]
            with torch.no_grad():
                def predict(x):
                    x = torch.from_numpy(x.reshape(len(x), d)).to(self.device)
                    return dae(x).cpu().numpy().reshape(x.shape[0], *masks.shape[1:])
                mu_a, mu_b = predict(a), predict(b)
                mu_c = predict(np.zeros_like(a[:1]))[0]
            hidden = lambda mu: (mu * masks).sum((1, 2)) / masks.sum((1, 2))
            return {"from_object": hidden(mu_a), "from_others": hidden(mu_b),
                    "from_nothing": hidden(np.broadcast_to(mu_c, masks.shape)),
                    "example_mask": masks[0], "example_alone": a[0], "example_others": b[0],
                    "example_mu_alone": mu_a[0], "example_mu_others": mu_b[0],
                    "example_image": images[rows[0][0]],
                    "meta": {"dataset": dataset, "hide": hide, "n_objects": len(rows),
                             "provenance": self.provenance()}}
        return self.store.arrays(f"predictability-{dataset}.npz", compute)

    def novel_objects(self, k: int = 3) -> dict:
        """Fig. 7: RC with the Multi-MNIST DAE on letters, circles and broken lines."""
        from .novel import SCENE_KINDS, novel_objects

        def compute():
            images, groups, descriptions = novel_objects(self.profile.seed)
            dae, _ = self.table_dae("multi_mnist", 1)
            res = reconstruction_clustering(dae, images, k=k, n_iters=self.profile.n_iters,
                                            seed=self.profile.seed, groups=groups)
            return {"images": images, "groups": groups, "gamma": res.gamma,
                    "ami": res.ami[:, -1],
                    "meta": {"descriptions": descriptions, "kinds": list(SCENE_KINDS), "k": k,
                             "provenance": self.provenance()}}
        return self.store.arrays(f"novel-k{k}.npz", compute)


def _check_table(dataset: str, table: int) -> None:
    if table not in TABLES:
        raise ValueError(f"table must be 1 or 2; got {table!r}")
    if table == 2 and dataset == "simple_superposition":
        raise ValueError("Simple Superposition has no multi-object training split "
                         "(the paper leaves it out of Table 2)")
