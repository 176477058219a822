import math

import pytest
import torch

from geolid.lid.loss.aamsoftmax_sc_topk_lang2vec import AAMSoftmaxSCTopKLang2Vec


def make(**kw):
    torch.manual_seed(0)
    conf = dict(nout=8, nclasses=5, margin=0.5, scale=30, K=3, mp=0.06, k_top=2, lang2vec_dim=299,
                lang2vec_type="geo", lang2vec_weight=0.2)
    conf.update(kw)
    return AAMSoftmaxSCTopKLang2Vec(**conf)


def test_published_weighting_numbers():
    loss = make()
    ce, f, i = torch.tensor(2.0), torch.tensor(0.5), torch.tensor(0.25)
    t = loss.combine(ce, f, i, inter_weight=0.4)
    assert math.isclose(t.total.item(), 0.64 * 2 + 0.28 * 0.5 + 0.08 * 0.25, rel_tol=1e-6)
    assert math.isclose(t.class_loss.item(), 0.8 * 2 + 0.2 * 0.5, rel_tol=1e-6)
    assert math.isclose(t.geo_loss_all.item(), 0.6 * 0.5 + 0.4 * 0.25, rel_tol=1e-6)


def test_documented_weighting_numbers():
    loss = make(weighting="documented")
    t = loss.combine(torch.tensor(2.0), torch.tensor(0.5), torch.tensor(0.25), inter_weight=0.4)
    assert math.isclose(t.total.item(), 0.8 * 2 + 0.2 * (0.6 * 0.5 + 0.4 * 0.25), rel_tol=1e-6)
    assert t.class_loss.item() == 2.0
    no_inter = loss.combine(torch.tensor(2.0), torch.tensor(0.5), None, inter_weight=0.4)
    assert math.isclose(no_inter.total.item(), 0.8 * 2 + 0.2 * 0.5, rel_tol=1e-6)


def test_training_scores_through_the_head(monkeypatch):
    """The margin loss takes its cosines from the scoring head (one implementation)."""
    loss = make()
    calls = []
    real = loss.head.cosine
    monkeypatch.setattr(loss.head, "cosine", lambda x, w: calls.append(x.shape) or real(x, w))
    loss(torch.randn(4, 8), torch.tensor([0, 1, 2, 3]))
    assert calls == [(4, 8)]


def test_scores_are_scaled_subcentre_max_cosines():
    loss = make()
    x = torch.randn(4, 8)
    cos = torch.nn.functional.normalize(x) @ torch.nn.functional.normalize(loss.weight).T
    expected = cos.view(4, 5, 3).max(dim=2).values
    torch.testing.assert_close(loss.head.cosine(x, loss.weight), expected)   # the scoring head
    torch.testing.assert_close(loss.head(x, loss.weight), expected * 30)
    _, _, preds = loss(x, None)
    assert torch.equal(preds, expected.argmax(1))


def _unit(deg):
    return [math.cos(math.radians(deg)), math.sin(math.radians(deg))]


def test_margin_cross_entropy_by_hand():
    """2-D embeddings and sub-centres at known angles; the loss worked out with math only.

    Classes 0..2 have sub-centres at (30, 100), (60, 170), (120, 200) degrees. Sample 1
    (angle 0, label 0) is nearest to class 0 at 30 degrees; sample 2 (angle 90, label 2)
    to class 2 at 30 degrees (120 - 90). The label's logit is s cos(theta + m), the
    other classes keep s cos(theta) (the top-k margin mp starts at 0, so it has no
    effect); the loss is the mean cross-entropy.
    """
    loss = make(nout=2, nclasses=3, K=2, k_top=1, margin=0.5, scale=30)
    centres = [30, 100, 60, 170, 120, 200]  # row c*K + k: sub-centre k of class c
    with torch.no_grad():
        loss.weight.copy_(torch.tensor([_unit(d) for d in centres]) * 3.0)  # norm is ignored
    x = torch.tensor([[2.0, 0.0], [0.0, 0.5]])
    ce, acc, preds = loss(x, torch.tensor([[0], [2]]))

    def angle_to(sample_deg, cls):
        return min(abs(sample_deg - d) % 360 for d in centres[2 * cls:2 * cls + 2])

    def sample_ce(sample_deg, label):
        logits = [30 * math.cos(math.radians(angle_to(sample_deg, c)) + (0.5 if c == label else 0))
                  for c in range(3)]
        return -logits[label] + math.log(sum(math.exp(z) for z in logits))

    expected = (sample_ce(0, 0) + sample_ce(90, 2)) / 2
    assert angle_to(90, 0) == 10 and angle_to(90, 2) == 30  # sample 2 is nearer class 0
    assert ce.item() == pytest.approx(expected, rel=1e-5)
    assert preds.tolist() == [0, 0] and acc.item() == 0.5
    # without the margin the same logits give a smaller loss
    plain = torch.nn.functional.cross_entropy(loss.head(x, loss.weight), torch.tensor([0, 2]))
    assert plain.item() < ce.item()


def test_binary_lang2vec_uses_bce():
    loss = make(lang2vec_type="phonology_knn", lang2vec_dim=28)
    assert isinstance(loss.geo_criterion, torch.nn.BCEWithLogitsLoss)
    assert loss.lang2vec_head[0].out_features == 28
    pred, target = torch.zeros(2, 28), torch.ones(2, 28)
    assert math.isclose(loss.geo_loss(pred, target).item(), math.log(2), rel_tol=1e-6)


@pytest.mark.parametrize("kw,msg", [
    (dict(lang2vec_dim=300), "lang2vec_dim=300 but lang2vec_type 'geo' has 299"),
    (dict(weighting="paper"), "weighting must be one of"),
    (dict(k_top=5), "k_top=5 must be smaller than the number of languages"),
    (dict(nclasses=None), "--lang_num"),
    (dict(lang2vec_weight=1.5), "lang2vec_weight must be in"),
])
def test_bad_conf_is_explained(kw, msg):
    with pytest.raises(ValueError, match=msg):
        make(**kw)


@pytest.mark.parametrize("training", [True, False])
def test_published_call_signature(training):
    """Code written against the published module: its constructor kwargs and
    ``loss(input=x, label=y, lang2vec=v)``; the loss with the geo term comes first."""
    torch.manual_seed(0)
    loss_fn = AAMSoftmaxSCTopKLang2Vec(nout=16, nclasses=10, scale=15, margin=0.3, easy_margin=False,
                                       K=3, mp=0.06, k_top=5, do_lm=False, lang2vec_dim=299,
                                       lang2vec_type="geo", lang2vec_weight=0.2)
    loss_fn.train(training)
    x = torch.randn(4, 16, requires_grad=True)
    y = torch.tensor([0, 3, 3, 9])
    v = torch.rand(4, 299)
    loss, accuracy, pred, class_loss, geo = loss_fn(input=x, label=y, lang2vec=v)
    ce, acc3, pred3 = loss_fn(x, y)
    mse = torch.nn.functional.mse_loss(loss_fn.lang2vec_head(x), v)
    torch.testing.assert_close(geo, mse)
    torch.testing.assert_close(loss, 0.8 * ce + 0.2 * mse)
    assert class_loss is loss  # the published in-place scaling made them one tensor
    assert torch.equal(pred, pred3) and accuracy == acc3 and pred.shape == (4,)
    loss.backward()
    assert x.grad is not None and loss_fn.lang2vec_head[0].weight.grad.abs().sum() > 0
    none_loss, none_acc, pred_only = loss_fn(input=x, lang2vec=v)
    assert none_loss is None and none_acc is None and torch.equal(pred_only, pred)
