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


def relu(x):
    return np.maximum(x, 0.0)


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


def lstm1997_rtrl(x, targets, kernel, recurrent_kernel, b_in, b_out, b_c,
                  w_out, b_k, blocks, block_size):
    """Forward pass and truncated RTRL gradient of the 1997 LSTM, by hand.

    Hochreiter & Schmidhuber 1997, Appendix A.1: the derivatives
    ∂s_{c_j^v}(t)/∂w are carried forward for the input-gate and cell
    weights; every other weight gets only its immediate derivative. One
    network: an `OriginalLSTM` with "F" connectivity and all biases, then
    logistic output units k fed by the cell outputs. `targets` is
    `(batch, T, K)` with NaN where no error is injected. Returns
    `(outputs, gradients)` with the gradients of E = ½ Σ (t_k - y_k)²
    (i.e. -Δw/α) for kernel, recurrent_kernel, b_in, b_out, b_c, w_out, b_k.
    """
    B, S = blocks, block_size
    C = B * S
    f = sigmoid

    def g(v):
        return 2.0 * np.tanh(v / 2.0)

    def g_prime(v):
        return 1.0 - np.tanh(v / 2.0) ** 2

    def h(v):
        return np.tanh(v / 2.0)

    def h_prime(v):
        return 0.5 * (1.0 - np.tanh(v / 2.0) ** 2)

    # One weight matrix per unit group over the presynaptic vector
    # p(t) = [x(t), y_c(t-1), y_in(t-1), y_out(t-1), 1].
    def stacked(cols, bias):
        return np.concatenate([kernel[:, cols], recurrent_kernel[:, cols],
                               bias[None, :]], axis=0)

    W_in = stacked(slice(0, B), b_in)
    W_out = stacked(slice(B, 2 * B), b_out)
    W_c = stacked(slice(2 * B, 2 * B + C), b_c)
    grads = {k: np.zeros_like(v) for k, v in
             [("W_in", W_in), ("W_out", W_out), ("W_c", W_c),
              ("w_out", w_out), ("b_k", b_k)]}
    block_of = np.repeat(np.arange(B), S)  # cell -> its block
    outputs = np.zeros(targets.shape)

    for n in range(x.shape[0]):
        y_c, y_in, y_out = np.zeros(C), np.zeros(B), np.zeros(B)
        s = np.zeros(C)
        ds_dWin = np.zeros((W_in.shape[0], C))  # ∂s_c/∂w_{in_j(c), m}
        ds_dWc = np.zeros((W_c.shape[0], C))    # ∂s_c/∂w_{c, m}
        for t in range(x.shape[1]):
            p = np.concatenate([x[n, t], y_c, y_in, y_out, [1.0]])
            net_in, net_out, net_c = p @ W_in, p @ W_out, p @ W_c
            y_in, y_out = f(net_in), f(net_out)
            s = s + y_in[block_of] * g(net_c)
            # Appendix A.1: the truncated RTRL recursions.
            ds_dWin += np.outer(p, g(net_c) * (y_in * (1 - y_in))[block_of])
            ds_dWc += np.outer(p, g_prime(net_c) * y_in[block_of])
            y_c = y_out[block_of] * h(s)
            y_k = f(y_c @ w_out + b_k)
            outputs[n, t] = y_k
            target = targets[n, t]
            if np.isnan(target).any():
                continue
            # e_k = f'(net_k)(t_k - y_k), and the errors it sends back.
            e_k = y_k * (1 - y_k) * (target - y_k)
            back = w_out @ e_k                       # Σ_k w_{k c} e_k
            e_out = y_out * (1 - y_out) * np.bincount(
                block_of, weights=h(s) * back, minlength=B)
            e_s = y_out[block_of] * h_prime(s) * back
            # dE/dw = -Δw/α
            grads["w_out"] -= np.outer(y_c, e_k)
            grads["b_k"] -= e_k
            grads["W_out"] -= np.outer(p, e_out)
            grads["W_in"] -= ds_dWin * e_s[None, :] @ np.eye(B)[block_of]
            grads["W_c"] -= ds_dWc * e_s[None, :]

    I = x.shape[-1]
    R = recurrent_kernel.shape[0]

    def unstack(m):
        return m[:I], m[I:I + R], m[-1]

    gin, gout, gc = unstack(grads["W_in"]), unstack(grads["W_out"]), unstack(grads["W_c"])
    return outputs, {
        "kernel": np.concatenate([gin[0], gout[0], gc[0]], axis=1),
        "recurrent_kernel": np.concatenate([gin[1], gout[1], gc[1]], axis=1),
        "input_gate_bias": gin[2],
        "output_gate_bias": gout[2],
        "cell_bias": gc[2],
        "w_out": grads["w_out"],
        "b_k": grads["b_k"],
    }
