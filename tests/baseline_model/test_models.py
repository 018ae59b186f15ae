"""Uni-FineParser model: stage shapes, parameter counts, each component's arithmetic, ablations, voting."""

from __future__ import annotations

import pytest
import torch
import torchvision

from baseline_model.config import ModelConfig
from baseline_model.losses import compute_loss, mask_target
from baseline_model.models import UniFineParser, build_model, vote
from baseline_model.models.i3d import InceptionI3d
from baseline_model.models.sap import SpatialActionParsing
from baseline_model.models.snippets import cut_snippets
from baseline_model.models.sve import IMAGENET_MEAN, IMAGENET_STD, ScaledResNet, StaticVisualEncoder
from baseline_model.models.tap import TemporalActionParsing
from baseline_model.summary import parameter_summary
from tests.baseline_model.tiny_models import one_thread, pair_batch, tiny_config  # noqa: F401 (autouse fixture)


def test_i3d_has_the_inception_i3d_parameter_count():
    assert sum(p.numel() for p in InceptionI3d().parameters()) == 12_287_264


def test_i3d_stages_on_an_8_frame_224_snippet():
    i3d = InceptionI3d().eval()
    x = torch.randn(1, 3, 8, 224, 224)
    shapes = []
    with torch.no_grad():
        for k in (1, 2, 3, 4):
            x = i3d.stage(x, k)
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [(64, 4, 112, 112), (192, 4, 56, 56), (832, 2, 14, 14), (1024, 1, 7, 7)]
    assert i3d.stage_channels == {1: 64, 2: 192, 3: 832, 4: 1024}
    assert i3d.stage_layers[1] == ["Conv3d_1a_7x7"]
    assert i3d.stage_layers[2][-1] == "Conv3d_2c_3x3" and i3d.stage_layers[3][-1] == "Mixed_4f"


def test_i3d_same_padding_matches_explicit_tensorflow_padding():
    """Stride-1 layers pad inside the convolution; compare with zero-padding the input by hand."""
    i3d = InceptionI3d(0.125).eval()
    unit = i3d.Conv3d_2c_3x3
    x = torch.relu(torch.randn(2, unit.conv3d.in_channels, 3, 9, 10))
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1, 1, 1))
    expected = torch.relu(unit.bn(torch.nn.functional.conv3d(padded, unit.conv3d.weight)))
    torch.testing.assert_close(unit(x), expected)
    # stride-2 7x7x7 on an even size pads 2 before and 3 after, as TensorFlow does
    first = i3d.Conv3d_1a_7x7
    x = torch.randn(1, 3, 8, 16, 16)
    padded = torch.nn.functional.pad(x, (2, 3, 2, 3, 2, 3))
    expected = torch.relu(first.bn(torch.nn.functional.conv3d(padded, first.conv3d.weight, stride=2)))
    torch.testing.assert_close(first(x), expected)


def test_width_multiplier_scales_every_stage():
    i3d = InceptionI3d(0.125)
    assert i3d.stage_channels == {1: 8, 2: 24, 3: 104, 4: 128}
    assert sum(p.numel() for p in i3d.parameters()) < 12_287_264 / 50


def test_resnet34_is_torchvisions_without_fc():
    ours = ScaledResNet([3, 4, 6, 3], 1.0)
    theirs = torchvision.models.resnet34()
    theirs.fc = torch.nn.Identity()
    assert sum(p.numel() for p in ours.parameters()) == 21_284_672
    shapes = {k: v.shape for k, v in theirs.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == shapes
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(ours.eval()(x), theirs.eval()(x))


def test_paper_model_parameter_breakdown():
    summary = parameter_summary(UniFineParser(ModelConfig()))
    assert summary["i3d"] == 12_287_264
    assert summary["sve"] == 21_284_672
    assert summary["sap"] == 3  # the 1x1 conv f_A over (A_mea, A_max)
    assert summary["tap"] == 1_445_889
    assert summary["regressor"] == 919_553
    assert summary["total_params"] == 35_937_381  # the paper reports 35.94M
    assert round(summary["total_params"] / 1e6, 2) == 35.94


def test_paper_architecture_forward_shapes():
    """Full widths, 103 frames, N = 20, L_q = 6, once, at 64x64 to stay light (224 is checked per stage)."""
    model = UniFineParser(ModelConfig()).eval()
    q, e = torch.randn(1, 3, 103, 64, 64), torch.randn(1, 3, 103, 64, 64)
    mask = torch.zeros(1, 1, 103, 64, 64)
    with torch.no_grad():
        out = model(q, e, mask, mask)
    assert out["delta"].shape == (1,) and out["step_deltas"].shape == (1, 6)
    for key in ("A1_q", "A2_q", "A1_e", "A2_e"):
        assert out[key].shape == (1, 20, 6)
        torch.testing.assert_close(out[key].sum(1), torch.ones(1, 6))
    assert out["A_q"].shape == out["M_q"].shape == (1, 20, 4, 16, 16)


def test_snippets_are_the_strided_windows():
    video = torch.arange(2 * 3 * 16 * 2 * 2, dtype=torch.float32).reshape(2, 3, 16, 2, 2)
    snippets = cut_snippets(video, 3, 8, 4)
    assert snippets.shape == (2, 3, 3, 8, 2, 2)
    for i in range(3):
        torch.testing.assert_close(snippets[:, i], video[:, :, 4 * i: 4 * i + 8])
    with pytest.raises(ValueError, match="need 21"):
        cut_snippets(video, 4, 9, 4)


def test_sap_attention_is_the_sigmoid_of_f_A_over_channel_mean_and_max():
    sap = SpatialActionParsing()
    with torch.no_grad():
        sap.f_A.weight.copy_(torch.tensor([2.0, -1.0]).view(1, 2, 1, 1, 1))
        sap.f_A.bias.fill_(0.5)
    x = torch.randn(2, 5, 3, 4, 4)
    enhanced, attention = sap(x)
    expected = torch.sigmoid(2 * x.mean(1) - x.amax(1) + 0.5)
    torch.testing.assert_close(attention, expected)
    torch.testing.assert_close(enhanced, x * (expected.unsqueeze(1) + 1))  # Eq. 5
    sap.plus_one = False
    torch.testing.assert_close(sap(x)[0], x * expected.unsqueeze(1))  # Table 10, "A"


@pytest.mark.parametrize(("stage", "size"), [(1, (4, 16, 16)), (2, (4, 8, 8)), (3, (2, 2, 2))])
def test_sap_stage_sets_the_attention_resolution(stage, size):
    cfg = tiny_config(sap_stage=stage)
    batch = pair_batch(cfg, 1)
    out = UniFineParser(cfg.model)(batch["q_video"], batch["e_video"], batch["q_mask"], None)
    assert out["A_q"].shape == (1, 3, *size)
    assert "M_e" not in out  # no exemplar mask given
    snippets = cut_snippets(batch["q_mask"], 3, 8, 4).squeeze(2)
    torch.testing.assert_close(out["M_q"], mask_target(snippets, size))


def test_sve_reads_the_two_central_frames_and_renormalises_for_imagenet():
    sve = StaticVisualEncoder([1, 1, 1, 1], 0.125, 128, "i3d_rgb_imagenet").eval()
    rgb = torch.rand(2, 3, 8, 32, 32)
    snippets = rgb * 2 - 1  # the [-1, 1] inputs of piergiaj's I3D
    out = sve(snippets)
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    frames = rgb[:, :, 4:6].transpose(1, 2).reshape(4, 3, 32, 32)
    torch.testing.assert_close(out, sve.resnet((frames - mean) / std).reshape(2, 128), atol=1e-5, rtol=1e-5)
    changed = snippets.clone()
    changed[:, :, [0, 1, 2, 3, 6, 7]] = 0.3
    torch.testing.assert_close(sve(changed), out)
    assert isinstance(sve.project, torch.nn.Identity)  # 2 x 64 = C_4
    assert isinstance(StaticVisualEncoder([1, 1, 1, 1], 0.125, 96, "model_rgb").project, torch.nn.Linear)


def test_tap_attention_maps_and_temperature():
    tap = TemporalActionParsing(in_dim=24, dim=16, num_queries=5, num_heads=2, tau_init=0.07 * 16)
    x = torch.randn(3, 7, 24)
    xt, a1, a2 = tap(x)
    assert xt.shape == (3, 5, 16) and a1.shape == a2.shape == (3, 7, 5)
    torch.testing.assert_close(a1.sum(1), torch.ones(3, 5))
    assert tap.tau.item() == pytest.approx(1.12)
    scores = tap.W1_Q(tap.queries) @ tap.W1_K(x).transpose(1, 2) / tap.tau
    torch.testing.assert_close(a1, torch.softmax(scores, -1).transpose(1, 2))
    xt.sum().backward()
    assert tap.tau.grad is not None and tap.tau.grad.abs() > 0


def test_ablations_remove_their_outputs_and_losses():
    for switch, absent in (("sap", "A_q"), ("tap", "A1_q")):
        cfg = tiny_config(**{switch: False})
        batch = pair_batch(cfg, 2)
        model = UniFineParser(cfg.model)
        assert getattr(model, switch) is None
        out = model(batch["q_video"], batch["e_video"], batch["q_mask"], batch["e_mask"])
        assert absent not in out
        losses = compute_loss(out, batch, cfg)
        assert losses["L_A" if switch == "sap" else "L_T"].item() == 0.0
    no_tap = UniFineParser(tiny_config(tap=False).model)(batch["q_video"], batch["e_video"])
    assert no_tap["step_deltas"].shape == (2, 3)  # one delta per snippet
    assert UniFineParser(tiny_config(sve=False).model).sve is None


def test_parameter_groups_partition_the_parameters():
    model = UniFineParser(tiny_config().model)
    groups = model.parameter_groups()
    assert groups["tau"] == [model.tap.tau]
    assert sum(len(g) for g in groups.values()) == len(list(model.parameters()))
    assert {id(p) for p in groups["i3d"]} == {id(p) for p in model.i3d.parameters()}
    assert {id(p) for p in groups["sve"]} == {id(p) for p in model.sve.parameters()}


def test_tiny_model_overfits_a_few_pairs():
    torch.manual_seed(0)
    cfg = tiny_config()
    model = build_model(cfg.model)
    batch = pair_batch(cfg, 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = []
    for _ in range(40):
        out = model(batch["q_video"], batch["e_video"], batch["q_mask"], batch["e_mask"])
        losses = compute_loss(out, batch, cfg)
        optimizer.zero_grad()
        losses["total"].backward()
        optimizer.step()
        history.append({k: v.item() for k, v in losses.items()})
    first, last = history[0], history[-1]
    assert last["L_E"] < 0.01 * first["L_E"]
    assert last["L_A"] < first["L_A"]
    assert last["total"] < 0.02 * first["total"]


def _constant_delta_model(delta: float) -> UniFineParser:
    model = UniFineParser(tiny_config().model).eval()
    last = model.regressor.E_R[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(delta)
    return model


def test_vote_averages_exemplar_scores_plus_deltas():
    model = _constant_delta_model(1.5)
    cfg = tiny_config()
    batch = pair_batch(cfg, 2)
    exemplars = torch.stack([batch["e_video"], batch["q_video"], batch["e_video"]], 1)  # B x M=3
    scores = torch.tensor([[80.0, 70.0, 60.0], [10.0, 20.0, 90.0]])
    pred = vote(model, batch["q_video"], None, exemplars, None, scores)
    torch.testing.assert_close(pred, torch.tensor([71.5, 41.5]))
    # DD (Table 12): raw = y_Z / DD_Z + delta, scaled by the query's difficulty
    e_dd = torch.tensor([[2.0, 2.0, 4.0], [1.0, 2.0, 3.0]])
    pred = vote(model, batch["q_video"], None, list(exemplars.unbind(1)), None, scores,
                dd=(torch.tensor([3.0, 2.0]), e_dd))
    expected = torch.tensor([3.0 * (40 + 35 + 15) / 3 + 3.0 * 1.5, 2.0 * (10 + 10 + 30) / 3 + 2.0 * 1.5])
    torch.testing.assert_close(pred, expected)


def test_vote_equals_the_mean_of_pairwise_forwards_in_eval_mode():
    torch.manual_seed(1)
    cfg = tiny_config()
    model = UniFineParser(cfg.model).eval()
    batch = pair_batch(cfg, 2)
    other = pair_batch(cfg, 2, seed=5)["e_video"]
    scores = torch.tensor([[50.0, 60.0], [70.0, 20.0]])
    pred = vote(model, batch["q_video"], batch["q_mask"], [batch["e_video"], other], None, scores)
    with torch.no_grad():
        deltas = torch.stack([model(batch["q_video"], e)["delta"] for e in (batch["e_video"], other)], 1)
    torch.testing.assert_close(pred, (scores + deltas).mean(1))
    with pytest.raises(ValueError, match="2 exemplar videos but 3"):
        vote(model, batch["q_video"], None, [batch["e_video"], other], None, torch.ones(2, 3))


def test_i3d_batchnorm_momentum_follows_the_config():
    for momentum in (0.01, 0.1):
        model = build_model(tiny_config(i3d_bn_momentum=momentum).model)
        bns = [m for m in model.i3d.modules() if isinstance(m, torch.nn.BatchNorm3d)]
        assert bns and all(m.momentum == momentum for m in bns)


def test_frozen_i3d_batchnorm_keeps_its_statistics_through_a_training_step():
    cfg = tiny_config(i3d_freeze_bn=True)
    model = UniFineParser(cfg.model).train()
    i3d_stats = {k: v.clone() for k, v in model.i3d.state_dict().items() if "running" in k}
    sve_stats = {k: v.clone() for k, v in model.sve.state_dict().items() if "running" in k}
    weights = {k: v.clone() for k, v in model.i3d.state_dict().items() if k.endswith("bn.weight")}
    batch = pair_batch(cfg, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    out = model(batch["q_video"], batch["e_video"], batch["q_mask"], batch["e_mask"])
    compute_loss(out, batch, cfg)["total"].backward()
    optimizer.step()
    assert all(torch.equal(v, model.i3d.state_dict()[k]) for k, v in i3d_stats.items())
    # the SVE's statistics still adapt, and the I3D's affine weights learn
    assert not all(torch.equal(v, model.sve.state_dict()[k]) for k, v in sve_stats.items())
    assert not all(torch.equal(v, model.i3d.state_dict()[k]) for k, v in weights.items())
    assert model.training and not any(m.training for m in model.i3d.modules()
                                      if isinstance(m, torch.nn.BatchNorm3d))
    free = UniFineParser(tiny_config().model).train()
    assert all(m.training for m in free.i3d.modules() if isinstance(m, torch.nn.BatchNorm3d))


def test_under_autocast_tap_and_the_regressor_run_in_float32():
    cfg = tiny_config()
    model = UniFineParser(cfg.model).eval()
    batch = pair_batch(cfg, 1)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(batch["q_video"], batch["e_video"], batch["q_mask"], batch["e_mask"])
    assert out["A_q"].dtype == torch.bfloat16  # SAP inside the I3D runs in half precision
    assert out["A1_q"].dtype == out["A2_q"].dtype == out["delta"].dtype == torch.float32
