"""Plain NumPy (float64) forward passes written from the papers' equations.

Independent of `zoo`: each function takes the weights as arrays in the
documented layout and loops over time. The tests compare the zoo layers'
outputs with these, and their autodiff gradients with central differences of
these.
"""

import numpy as np

# Blocks of W / R / b per variant, in Keras order [i, f, z, o] (Greff et al.
# 2017: NIG has no i, NFG and CIFG no f, NOG no o).
LSTM_BLOCKS = {
    "keras": "ifzo",
    "vanilla": "ifzo",
    "NIG": "fzo",
    "NFG": "izo",
    "NOG": "ifz",
    "NIAF": "ifzo",
    "NOAF": "ifzo",
    "NP": "ifzo",
    "CIFG": "izo",
    "FGR": "ifzo",
}
NO_PEEPHOLES = ("keras", "NP")


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def lstm(variant, x, kernel, recurrent_kernel, bias, peephole=None,
         gate_recurrent=None):
    """Greff et al.'s LSTM `variant` over x `(batch, time, features)`.

    Returns the block outputs y^t for every t, `(batch, time, units)`.
    """
    blocks = LSTM_BLOCKS[variant]
    units = recurrent_kernel.shape[0]
    W = {b: kernel[:, k * units:(k + 1) * units] for k, b in enumerate(blocks)}
    R = {b: recurrent_kernel[:, k * units:(k + 1) * units]
         for k, b in enumerate(blocks)}
    B = {b: bias[k * units:(k + 1) * units] for k, b in enumerate(blocks)}
    gates_with_peepholes = [b for b in blocks if b != "z"]
    P = {b: np.zeros(units) for b in "ifo"}
    if variant not in NO_PEEPHOLES:
        for k, b in enumerate(gates_with_peepholes):
            P[b] = peephole[k]
    g = (lambda v: v) if variant == "NIAF" else np.tanh
    h = (lambda v: v) if variant == "NOAF" else np.tanh

    batch, steps, _ = x.shape
    y = np.zeros((batch, units))
    c = np.zeros((batch, units))
    prev_gates = {b: np.zeros((batch, units)) for b in "ifo"}
    outputs = []
    for t in range(steps):
        pre = {b: x[:, t] @ W[b] + y @ R[b] + B[b] for b in blocks}
        if variant == "FGR":
            # ī += R_ii i^{t-1} + R_fi f^{t-1} + R_oi o^{t-1}, likewise f̄, ō.
            for col, b in enumerate("ifo"):
                for row, a in enumerate("ifo"):
                    pre[b] = pre[b] + prev_gates[a] @ gate_recurrent[
                        row * units:(row + 1) * units,
                        col * units:(col + 1) * units]
        i = sigmoid(pre["i"] + P["i"] * c) if "i" in blocks else 1.0
        if variant == "CIFG":
            f = 1.0 - i
        elif "f" in blocks:
            f = sigmoid(pre["f"] + P["f"] * c)
        else:
            f = 1.0
        z = g(pre["z"])
        c = z * i + c * f
        o = sigmoid(pre["o"] + P["o"] * c) if "o" in blocks else 1.0
        y = h(c) * o
        prev_gates = {"i": i, "f": f, "o": o}
        outputs.append(y)
    return np.stack(outputs, axis=1)


def gru(x, kernel, recurrent_kernel, bias, reset_after):
    """Cho et al.'s GRU over x; Keras's block order [z, r, h]."""
    units = recurrent_kernel.shape[0]
    Wz, Wr, Wh = np.split(kernel, 3, axis=1)
    Uz, Ur, Uh = np.split(recurrent_kernel, 3, axis=1)
    if reset_after:
        bz, br, bh = np.split(bias[0], 3)
        cz, cr, ch = np.split(bias[1], 3)
    else:
        bz, br, bh = np.split(bias, 3)
        cz = cr = ch = 0.0
    h = np.zeros((x.shape[0], units))
    outputs = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        z = sigmoid(xt @ Wz + bz + h @ Uz + cz)
        r = sigmoid(xt @ Wr + br + h @ Ur + cr)
        if reset_after:
            hh = np.tanh(xt @ Wh + bh + r * (h @ Uh + ch))
        else:
            hh = np.tanh(xt @ Wh + bh + (r * h) @ Uh)
        h = z * h + (1.0 - z) * hh
        outputs.append(h)
    return np.stack(outputs, axis=1)


def numerical_gradient(f, array, eps=1e-6):
    """Central differences of the scalar f() with respect to `array`."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + eps
        plus = f()
        array[index] = saved - eps
        minus = f()
        array[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad
