"""Loaders on small generated datasets in CIFAR-10's and ImageFolder's on-disk formats, the models, and every
bundled recipe checked (the realistic ones pointed at the generated data)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from composer_sched.data import cifar10_datasets, image_folder_datasets
from composer_sched.recipes import RecipeError, bundled_recipes, load_recipe


def test_cifar10_python_batches(cifar_dir):
    folder, batches = cifar_dir
    train, test = cifar10_datasets(folder.parent, augment=False)  # the parent of cifar-10-batches-py works too
    assert len(train) == 5 * 16 and len(test) == 16
    data, labels = batches['data_batch_2']
    x, y = train[16 + 3]  # 4th image of the 2nd batch
    assert x.shape == (3, 32, 32) and int(y) == labels[3]
    mean, std = torch.tensor([0.4914, 0.4822, 0.4465]), torch.tensor([0.2470, 0.2435, 0.2616])
    raw = x * std.view(3, 1, 1) + mean.view(3, 1, 1)
    # channel c, row r, column k is byte c*1024 + r*32 + k
    for c, r, k in [(0, 0, 0), (1, 5, 7), (2, 31, 30)]:
        assert float(raw[c, r, k]) * 255 == pytest.approx(data[3, c * 1024 + r * 32 + k], abs=1e-3)
    xt, yt = test[0]
    assert int(yt) == batches['test_batch'][1][0]
    aug, _ = cifar10_datasets(folder, augment=True)
    xa, ya = aug[19]
    assert xa.shape == (3, 32, 32) and int(ya) == int(y)


def test_cifar10_errors(tmp_path, cifar_dir):
    with pytest.raises(ValueError, match='no CIFAR-10 python batches'):
        cifar10_datasets(tmp_path)
    folder, _ = cifar_dir
    broken = tmp_path / 'broken'
    broken.mkdir()
    (broken / 'data_batch_1').write_bytes((folder / 'data_batch_1').read_bytes())
    with pytest.raises(ValueError, match='missing data_batch_2'):
        cifar10_datasets(broken)


def test_image_folder(image_dir, tmp_path):
    train, val = image_folder_datasets(image_dir, image_size=32, augment=True)
    assert len(train) == 12 and len(val) == 12
    assert train.classes == ['ant', 'bee', 'cat']
    x, y = val[5]
    assert x.shape == (3, 32, 32) and y == 1
    with pytest.raises(ValueError, match="no 'train' folder"):
        image_folder_datasets(image_dir / 'train')


@pytest.mark.parametrize('name, shape, classes', [('cifar_resnet20', (2, 3, 32, 32), 10),
                                                  ('cifar_resnet56', (2, 3, 32, 32), 10),
                                                  ('resnet18', (2, 3, 64, 64), 7), ('resnet50', (1, 3, 64, 64), 5)])
def test_models(name, shape, classes):
    from composer.models import ComposerClassifier

    from composer_sched.models import MODELS

    model = MODELS[name](num_classes=classes)
    assert isinstance(model, ComposerClassifier)
    model.eval()
    with torch.no_grad():
        out = model((torch.randn(*shape), torch.zeros(shape[0], dtype=torch.long)))
    assert out.shape == (shape[0], classes)
    n_params = sum(p.numel() for p in model.parameters())
    # ResNet-20 has ~0.27M parameters, ResNet-56 ~0.85M (He et al. 2016, table 6)
    expected = {'cifar_resnet20': (0.26e6, 0.29e6), 'cifar_resnet56': (0.84e6, 0.87e6),
                'resnet18': (11e6, 12e6), 'resnet50': (23e6, 26e6)}[name]
    assert expected[0] < n_params < expected[1]


def _data_overrides(name: str, cifar_dir, image_dir) -> list[str]:
    if name.startswith('cifar10'):
        return [f'data.path={cifar_dir[0]}', 'data.batch_size=8', 'data.num_workers=0']
    if name.startswith('imagenet'):
        return [f'data.path={image_dir}', 'data.batch_size=4', 'data.image_size=32', 'data.num_workers=0']
    return []


@pytest.mark.parametrize('name', bundled_recipes())
def test_every_bundled_recipe_loads(name, cifar_dir, image_dir):
    """Every file in yamls/ is a valid recipe: its names exist, its values are in range, its schedule fits."""
    r = load_recipe(name, _data_overrides(name, cifar_dir, image_dir))
    values = r.preview()
    assert len(values) > 0 and np.all(np.isfinite(values)) and np.all(values >= 0)
    assert r.config.name  # every bundled recipe has a name


def test_every_method_and_algorithm_has_a_recipe():
    from composer_sched.algorithms import algorithm_names
    from composer_sched.schedules.registry import method_names

    names = set(bundled_recipes())
    assert {f'schedules/{m}' for m in method_names()} <= names
    assert {f'algorithms/{a}' for a in algorithm_names()} <= names


def test_realistic_recipes_need_a_data_path():
    for name in ('cifar10_resnet20', 'imagenet_resnet50'):
        with pytest.raises(RecipeError) as info:
            load_recipe(name)
        assert info.value.key == 'data.path' and 'data.path=' in str(info.value)


def test_cifar_recipe_trains(cifar_dir):
    r = load_recipe('cifar10_resnet20', _data_overrides('cifar10', cifar_dir, None) + [
        'device=cpu', 'max_duration=2ep', 'train_subset_num_batches=2', 'eval.subset_num_batches=1',
        'loggers.console=null'])
    assert r.dataloader_len == 2
    trainer = r.build_trainer(progress_bar=False)
    trainer.fit()
    assert trainer.state.timestamp.batch.value == 4
    assert 0 <= float(trainer.state.eval_metrics['eval']['MulticlassAccuracy'].compute()) <= 1


def test_image_folder_recipe_trains(image_dir):
    r = load_recipe('imagenet_resnet18', _data_overrides('imagenet', None, image_dir) + [
        'device=cpu', 'max_duration=2ba', 'model.num_classes=3', 'loggers.console=null', 'eval.interval=2ba'])
    assert r.dataloader_len == 3  # 12 images in batches of 4
    trainer = r.build_trainer(progress_bar=False)
    trainer.fit()
    assert trainer.state.timestamp.batch.value == 2
    assert 'MulticlassAccuracy' in trainer.state.eval_metrics['eval']


def test_bad_data_path_is_a_recipe_error(tmp_path):
    with pytest.raises(RecipeError) as info:
        load_recipe('cifar10_resnet20', [f'data.path={tmp_path}', 'device=cpu'])
    assert info.value.key == 'data.path' and 'no CIFAR-10 python batches' in str(info.value)
