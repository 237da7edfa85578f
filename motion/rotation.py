"""Rotation conversions and quaternion algebra, vectorised, for numpy arrays and torch tensors alike.

Conventions: quaternions are (w, x, y, z), Hamilton product, unit norm; matrices act on column vectors
(`v' = R @ v`); axis-angle is the rotation vector (axis * angle, radians); the continuous 6-D form is the
HumanML3D one, the first two *columns* of the matrix concatenated `[R[:, 0], R[:, 1]]`.

Every public function accepts numpy arrays or torch tensors and returns the same kind. A numpy input is viewed
as a torch tensor without a copy, computed in its own dtype, and handed back as numpy. Leading dimensions
broadcast; shapes are written `(..., 4)` etc.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import torch

Array = TypeVar("Array", np.ndarray, torch.Tensor)

__all__ = [
    "axis_angle_to_matrix",
    "axis_angle_to_quat",
    "cont6d_to_matrix",
    "euler_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_cont6d",
    "matrix_to_euler",
    "matrix_to_quat",
    "qbetween",
    "qfix",
    "qinv",
    "qmul",
    "qnormalize",
    "qrot",
    "qslerp",
    "quat_to_axis_angle",
    "quat_to_cont6d",
    "quat_to_matrix",
    "rot6d_rows_to_matrix",
    "rotation_fit",
    "swing_rotation",
]


CHUNK_FRAMES = 4096  # long numpy inputs are processed in chunks along dim 0 that stay in cache


def _numpy_in_numpy_out(fn: Callable | None = None, *, chunkable: bool = True) -> Callable:
    """Let a torch implementation take numpy arrays: numpy in -> torch view -> numpy out.

    Element-wise functions (`chunkable`) process long numpy inputs in chunks of `CHUNK_FRAMES` along dim 0 when
    every array argument has the same dim 0; this is several times faster on large, memory-bound inputs.
    """
    if fn is None:
        return functools.partial(_numpy_in_numpy_out, chunkable=chunkable)

    def call(args, kwargs):
        targs = [torch.from_numpy(np.ascontiguousarray(a)) if isinstance(a, np.ndarray) else a for a in args]
        out = fn(*targs, **kwargs)
        return out.numpy() if isinstance(out, torch.Tensor) else out

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        arrays = [a for a in args if isinstance(a, np.ndarray)]
        if not arrays:
            return fn(*args, **kwargs)
        n = arrays[0].shape[0] if arrays[0].ndim > 1 else 0
        if not chunkable or n <= 2 * CHUNK_FRAMES or any(a.ndim < 2 or a.shape[0] != n for a in arrays):
            return call(args, kwargs)
        outs = [
            call([a[i : i + CHUNK_FRAMES] if isinstance(a, np.ndarray) else a for a in args], kwargs)
            for i in range(0, n, CHUNK_FRAMES)
        ]
        return np.concatenate(outs, axis=0)

    return wrapper


def _cross(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cross product over the last dim (torch's kernel is ~20x slower on strided inputs, so pass it contiguous)."""
    return torch.linalg.cross(a.contiguous(), b.contiguous(), dim=-1)


def _bcast(*xs: torch.Tensor, tails: tuple[int, ...]) -> list[torch.Tensor]:
    """Broadcast the leading dims of tensors whose trailing dims have the given sizes."""
    lead = torch.broadcast_shapes(*(x.shape[:-1] for x in xs))
    return [x if x.shape[:-1] == lead else x.expand(*lead, t).contiguous() for x, t in zip(xs, tails, strict=True)]


# ---------------------------------------------------------------------------------------------- quaternions


@_numpy_in_numpy_out
def qnormalize(q: Array) -> Array:
    """Unit quaternion. (..., 4) -> (..., 4)"""
    return q / torch.linalg.norm(q, dim=-1, keepdim=True)


@_numpy_in_numpy_out
def qmul(q: Array, r: Array) -> Array:
    """Hamilton product q * r (apply r first, then q). (..., 4), (..., 4) -> (..., 4)"""
    q, r = _bcast(q, r, tails=(4, 4))
    w1, x1, y1, z1 = q.unbind(-1)
    w2, x2, y2, z2 = r.unbind(-1)
    return torch.stack(
        (
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ),
        dim=-1,
    )


@_numpy_in_numpy_out
def qinv(q: Array) -> Array:
    """Inverse of a unit quaternion (its conjugate). (..., 4) -> (..., 4)"""
    return q * q.new_tensor([1.0, -1.0, -1.0, -1.0])


@_numpy_in_numpy_out
def qrot(q: Array, v: Array) -> Array:
    """Rotate vectors v by unit quaternions q: v + 2 w (u x v) + 2 u x (u x v). (..., 4), (..., 3) -> (..., 3)"""
    q, v = _bcast(q, v, tails=(4, 3))
    u = q[..., 1:]
    uv = _cross(u, v)
    uuv = _cross(u, uv)
    return v + 2 * (q[..., :1] * uv + uuv)


@_numpy_in_numpy_out
def qbetween(v0: Array, v1: Array) -> Array:
    """Shortest-arc quaternion rotating direction v0 onto v1 (any lengths). (..., 3), (..., 3) -> (..., 4)

    Undefined (NaN) for exactly opposite vectors, as in the HumanML3D formula this follows.
    """
    v0, v1 = _bcast(v0, v1, tails=(3, 3))
    v = _cross(v0, v1)
    w = torch.sqrt((v0**2).sum(-1, keepdim=True) * (v1**2).sum(-1, keepdim=True)) + (v0 * v1).sum(-1, keepdim=True)
    return qnormalize(torch.cat([w, v], dim=-1))


@_numpy_in_numpy_out(chunkable=False)
def qfix(q: Array) -> Array:
    """Flip signs along time (dim 0) so consecutive quaternions have a positive dot product. (T, ..., 4)"""
    flips = ((q[1:] * q[:-1]).sum(-1) < 0).to(torch.int64).cumsum(0) % 2  # (T-1, ...)
    sign = torch.cat([torch.zeros_like(q[:1, ..., 0], dtype=torch.int64), flips], dim=0)  # one frame: no flip
    return q * (1 - 2 * sign).to(q.dtype)[..., None]


@_numpy_in_numpy_out
def axis_angle_to_quat(aa: Array) -> Array:
    """Rotation vectors to unit quaternions (w >= 0). (..., 3) -> (..., 4)"""
    angle = torch.linalg.norm(aa, dim=-1, keepdim=True)
    half = 0.5 * angle
    small = angle < 1e-6
    # sin(a/2)/a, with its Taylor expansion near zero
    k = torch.where(small, 0.5 - angle**2 / 48, torch.sin(half) / torch.where(small, torch.ones_like(angle), angle))
    return torch.cat([torch.cos(half), aa * k], dim=-1)


@_numpy_in_numpy_out
def quat_to_axis_angle(q: Array) -> Array:
    """Unit quaternions to rotation vectors with angle in [0, pi]. (..., 4) -> (..., 3)"""
    q = torch.where(q[..., :1] < 0, -q, q)
    sin_half = torch.linalg.norm(q[..., 1:], dim=-1, keepdim=True)
    angle = 2 * torch.atan2(sin_half, q[..., :1])
    small = sin_half < 1e-6
    ratio = angle / torch.where(small, torch.ones_like(angle), sin_half)
    k = torch.where(small, 2.0 / q[..., :1].clamp_min(1e-12), ratio)
    return q[..., 1:] * k


@_numpy_in_numpy_out
def quat_to_matrix(q: Array) -> Array:
    """Quaternions (need not be unit) to rotation matrices. (..., 4) -> (..., 3, 3)"""
    r, i, j, k = q.unbind(-1)
    two_s = 2.0 / (q * q).sum(-1)
    m = torch.stack(
        (
            1 - two_s * (j * j + k * k),
            two_s * (i * j - k * r),
            two_s * (i * k + j * r),
            two_s * (i * j + k * r),
            1 - two_s * (i * i + k * k),
            two_s * (j * k - i * r),
            two_s * (i * k - j * r),
            two_s * (j * k + i * r),
            1 - two_s * (i * i + j * j),
        ),
        dim=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


@_numpy_in_numpy_out
def matrix_to_quat(m: Array) -> Array:
    """Rotation matrices to unit quaternions with w >= 0 (numerically stable branch choice). (..., 3, 3) -> (..., 4)"""
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    # four candidate solutions, each exact where its 4*x^2 term is largest
    t = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22, 1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1)
    cands = torch.stack(
        [
            torch.stack([t[..., 0], m21 - m12, m02 - m20, m10 - m01], -1),
            torch.stack([m21 - m12, t[..., 1], m10 + m01, m02 + m20], -1),
            torch.stack([m02 - m20, m10 + m01, t[..., 2], m12 + m21], -1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, t[..., 3]], -1),
        ],
        dim=-2,
    )  # (..., 4 candidates, 4)
    best = t.argmax(-1, keepdim=True)  # (..., 1)
    q = torch.gather(cands, -2, best[..., None].expand(*best.shape[:-1], 1, 4)).squeeze(-2)
    q = q / (2 * torch.sqrt(torch.gather(t, -1, best).clamp_min(1e-12)))
    return torch.where(q[..., :1] < 0, -q, q)


def axis_angle_to_matrix(aa: Array) -> Array:
    """Rotation vectors to matrices. (..., 3) -> (..., 3, 3)"""
    return quat_to_matrix(axis_angle_to_quat(aa))


def matrix_to_axis_angle(m: Array) -> Array:
    """Rotation matrices to rotation vectors. (..., 3, 3) -> (..., 3)"""
    return quat_to_axis_angle(matrix_to_quat(m))


@_numpy_in_numpy_out
def matrix_to_cont6d(m: Array) -> Array:
    """Matrices to the HumanML3D 6-D form [first column, second column]. (..., 3, 3) -> (..., 6)"""
    return torch.cat([m[..., :, 0], m[..., :, 1]], dim=-1)


@_numpy_in_numpy_out
def cont6d_to_matrix(d6: Array) -> Array:
    """HumanML3D 6-D form to matrices by Gram-Schmidt (x from the first 3, z = x cross y). (..., 6) -> (..., 3, 3)"""
    x = d6[..., 0:3] / torch.linalg.norm(d6[..., 0:3], dim=-1, keepdim=True)
    z = _cross(x, d6[..., 3:6])
    z = z / torch.linalg.norm(z, dim=-1, keepdim=True)
    y = _cross(z, x)
    return torch.stack([x, y, z], dim=-1)


def quat_to_cont6d(q: Array) -> Array:
    """Quaternions to the HumanML3D 6-D form. (..., 4) -> (..., 6)"""
    return matrix_to_cont6d(quat_to_matrix(q))


def rot6d_rows_to_matrix(d6: Array) -> Array:
    """The *row* 6-D form (first two matrix rows, as pytorch3d / EDGE / FineDance store it) to matrices.

    Gram-Schmidt gives the same three vectors as `cont6d_to_matrix`; they are the rows here. (..., 6) -> (..., 3, 3)
    """
    return cont6d_to_matrix(d6).swapaxes(-1, -2)


@_numpy_in_numpy_out
def qslerp(q0: Array, q1: Array, w: Array) -> Array:
    """Spherical interpolation of unit quaternions along the shorter arc. (..., 4), (..., 4), (...) -> (..., 4)

    `w = 0` returns q0 exactly and `w = 1` returns q1 up to sign; nearly equal quaternions are interpolated linearly.
    """
    q0, q1 = _bcast(q0, q1, tails=(4, 4))
    dot = (q0 * q1).sum(-1, keepdim=True)
    q1 = torch.where(dot < 0, -q1, q1)
    dot = dot.abs().clamp(max=1.0)
    w = torch.as_tensor(w, dtype=q0.dtype)[..., None]
    theta = torch.acos(dot)
    sin_t = torch.sin(theta)
    near = sin_t < 1e-6
    safe = torch.where(near, torch.ones_like(sin_t), sin_t)
    a = torch.where(near, 1 - w, torch.sin((1 - w) * theta) / safe)
    b = torch.where(near, w, torch.sin(w * theta) / safe)
    out = a * q0 + b * q1
    return torch.where(w == 0, q0, qnormalize(out))


# ---------------------------------------------------------------------------------------------- Euler angles
# `order` names the axes as a BVH CHANNELS line lists them: "ZXY" means R = Rz(a0) @ Rx(a1) @ Ry(a2).
_AXES = {"X": 0, "Y": 1, "Z": 2}


def _check_order(order: str) -> tuple[int, int, int]:
    axes = tuple(_AXES.get(c, -1) for c in order.upper())
    if len(axes) != 3 or sorted(axes) != [0, 1, 2]:
        raise ValueError(f"Euler order must be a permutation of XYZ, got {order!r}")
    return axes  # type: ignore[return-value]


def _axis_rotation(axis: int, angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices about one coordinate axis. (...) -> (..., 3, 3)"""
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    rows = {
        0: (one, zero, zero, zero, c, -s, zero, s, c),
        1: (c, zero, s, zero, one, zero, -s, zero, c),
        2: (c, -s, zero, s, c, zero, zero, zero, one),
    }[axis]
    return torch.stack(rows, dim=-1).reshape(angle.shape + (3, 3))


@_numpy_in_numpy_out
def euler_to_matrix(angles: Array, order: str) -> Array:
    """Intrinsic Euler angles (radians, in the listed axis order) to matrices. (..., 3) -> (..., 3, 3)"""
    axes = _check_order(order)
    m = _axis_rotation(axes[0], angles[..., 0])
    for k in (1, 2):
        m = m @ _axis_rotation(axes[k], angles[..., k])
    return m


@_numpy_in_numpy_out
def matrix_to_euler(m: Array, order: str) -> Array:
    """Matrices to intrinsic Euler angles (radians) in the listed axis order, middle angle in [-pi/2, pi/2].

    Inverse of `euler_to_matrix` away from gimbal lock (middle angle +-90 degrees). (..., 3, 3) -> (..., 3)
    """
    i, j, k = _check_order(order)
    s = 1.0 if (j - i) % 3 == 1 else -1.0  # +1 for cyclic orders (XYZ, YZX, ZXY)
    b = torch.asin((s * m[..., i, k]).clamp(-1.0, 1.0))
    a = torch.atan2(-s * m[..., j, k], m[..., k, k])
    c = torch.atan2(-s * m[..., i, j], m[..., i, i])
    return torch.stack([a, b, c], dim=-1)


# ---------------------------------------------------------------------------------------------- fitting


@_numpy_in_numpy_out
def swing_rotation(u: Array, v: Array) -> Array:
    """Minimal rotation matrix taking direction u onto direction v (Rodrigues; stable up to 180 degrees).

    (..., 3), (..., 3) -> (..., 3, 3). For opposite vectors it turns by pi about an axis orthogonal to u.
    """
    u, v = _bcast(u, v, tails=(3, 3))
    u = u / torch.linalg.norm(u, dim=-1, keepdim=True)
    v = v / torch.linalg.norm(v, dim=-1, keepdim=True)
    axis = _cross(u, v)
    s = torch.linalg.norm(axis, dim=-1, keepdim=True)
    c = (u * v).sum(-1, keepdim=True)
    # fallback axis for (anti)parallel vectors: u cross the coordinate axis least aligned with u
    e = torch.nn.functional.one_hot(u.abs().argmin(-1), 3).to(u.dtype)
    fallback = _cross(u, e)
    fallback = fallback / torch.linalg.norm(fallback, dim=-1, keepdim=True)
    axis = torch.where(s > 1e-8, axis / s.clamp_min(1e-12), fallback)
    return axis_angle_to_matrix(axis * torch.atan2(s, c))


@_numpy_in_numpy_out
def rotation_fit(src: Array, dst: Array) -> Array:
    """Best rotation R (least squares, Kabsch) with R @ src_k ~ dst_k for K pairs. (..., K, 3) x2 -> (..., 3, 3)"""
    h = src.transpose(-1, -2) @ dst  # (..., 3, 3) = sum_k src_k dst_k^T
    u, _, vt = torch.linalg.svd(h)
    v = vt.transpose(-1, -2)
    d = torch.sign(torch.linalg.det(v @ u.transpose(-1, -2)))
    d = torch.where(d == 0, torch.ones_like(d), d)
    diag = torch.stack([torch.ones_like(d), torch.ones_like(d), d], dim=-1)
    return (v * diag[..., None, :]) @ u.transpose(-1, -2)
