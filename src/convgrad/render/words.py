"""The words of the walkthrough and the tables, in English and in Chinese (the seeds' language).

Formulas and numbers are the same in both languages; only the sentences around
them change. Each entry is a format string with named fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

LANGUAGES = ("en", "zh")  # the order of each entry's sentences in WORDS

WORDS: dict[str, tuple[str, str]] = {
    # section titles
    "title.problem": ("Problem", "题目"),
    "title.grad_output": ("dL/dY given", "给定 dL/dY"),
    "title.conv": ("Forward: convolution", "前向传播：卷积"),
    "title.forward": ("Forward: {layer}", "前向传播：{layer}"),
    "title.pool": ("Forward: {layer} ({kind} pooling {size}, stride {stride})",
                   "前向传播：{layer}（{kind}池化 {size}，步长 {stride}）"),
    # the kind of a pooling, before "pooling" (池化): max pooling 2x2, 最大池化 2x2
    "pool.max": ("max", "最大"),
    "pool.avg": ("avg", "平均"),
    "title.loss": ("Loss: {loss}", "损失：{loss}"),
    "title.dW": ("Backward: dL/dW", "反向传播：dL/dW"),
    "title.layer_weights": ("Backward: {layer} weights", "反向传播：{layer} 的权重"),
    "title.dX": ("Backward: dL/dX", "反向传播：dL/dX"),
    "title.layer_input": ("Backward: {layer} input", "反向传播：{layer} 的输入"),
    "title.backward": ("Backward: {layer}", "反向传播：{layer}"),
    "title.update": ("Update", "参数更新"),
    # explain's training rounds after the first (steps: k)
    "title.round": ("Round {n}", "第 {n} 轮"),
    "why.round": ("Round {n} goes through the forward pass, the loss and the backward pass "
                  "above again, on the same input and target, from the parameters round "
                  "{prev} left: its loss (before its update), its gradients, then its update.",
                  "第 {n} 轮从第 {prev} 轮更新后的参数出发，在同一输入和目标上把上面的前向"
                  "传播、损失和反向传播再做一遍：先是它的损失（更新之前）和梯度，然后是它的"
                  "参数更新。"),
    "matrix.round": ("{name}, round {n}", "{name}（第 {n} 轮）"),
    "step.rounds": ("Rounds {first} to {last}", "第 {first} 轮到第 {last} 轮"),
    "step.rounds.why": ("Rounds {first} to {last} go through the same steps, each from the "
                        "parameters the round before left; as solve lists them, each round's "
                        "loss (before its update) and updated parameters (--all writes out "
                        "every round's update).",
                        "第 {first} 轮到第 {last} 轮按同样的步骤进行，每一轮都从上一轮更新后的"
                        "参数出发；这里像 solve 一样列出每一轮的损失（更新之前）和更新后的参数"
                        "（--all 写出每一轮的参数更新）。"),
    "step.rounds.why.one": ("Round {first} goes through the same steps, from the parameters "
                            "round {prev} left; as solve lists it, its loss (before its update) "
                            "and updated parameters (--all writes out its update).",
                            "第 {first} 轮按同样的步骤进行，从第 {prev} 轮更新后的参数出发；"
                            "这里像 solve 一样列出它的损失（更新之前）和更新后的参数"
                            "（--all 写出它的参数更新）。"),
    "title.results": ("Results", "结果"),
    # a document's title (--format markdown, latex, html)
    "doc.solve": ("Solution", "解答"),
    "doc.explain": ("Walkthrough", "分步讲解"),
    "title.steps": ("Training steps", "训练步骤"),
    "why.steps.each": ("Each step: a forward and backward pass on the same input and target, its "
                       "loss (before its update), then the updated parameters.",
                       "每一步：在同一输入和目标上做一次前向和反向传播，给出它的损失（更新之前），"
                       "然后是更新后的参数。"),
    "why.steps": ("Training steps: each step is a forward and backward pass on the same input "
                  "and target, its loss (before its update), then the updated parameters.",
                  "训练步骤：每一步在同一输入和目标上做一次前向和反向传播，给出它的损失"
                  "（更新之前），然后是更新后的参数。"),
    "nav.previous": ("Previous", "上一步"),
    "nav.next": ("Next", "下一步"),
    "nav.hint": ("Point at or tab to an entry: the entries it is made of light up and its "
                 "term is written out below; Escape clears.",
                 "指向某个元素或用 Tab 键选中它：构成它的元素会高亮，下方写出它的算式；"
                 "按 Esc 清除。"),
    # why: one line before the numbers
    "why.problem": ("What is given and the conventions used.", "已知条件与所用的约定。"),
    "why.grad_output": ("grad_output gives dL/dY directly; there is no loss.",
                        "grad_output 直接给出 dL/dY，没有损失函数。"),
    "why.conv": ("Each output is the sum of the input window times the kernel, plus the bias "
                 "({mode}).",
                 "每个输出等于输入窗口与卷积核对应元素的乘积之和，再加上偏置（{mode}）。"),
    "mode.correlation": ("cross-correlation", "互相关，卷积核不翻转"),
    "mode.flipped": ("cross-correlation, kernel rotated 180 degrees",
                     "互相关，卷积核先旋转 180 度"),
    "why.activation": ("{name}: {formula}, elementwise.", "{name}：{formula}，逐元素计算。"),
    "why.pool": ("Pooling takes {rule}.", "池化取{rule}。"),
    "rule.max_pool": ("the largest element of each window; on a tie the first in row-major order",
                      "每个窗口中的最大值；并列时取按行优先顺序的第一个"),
    "rule.avg_pool": ("the mean of each window", "每个窗口的平均值"),
    "why.flatten": ("Flatten lays the maps out as one vector: channel, then row, then column.",
                    "展平：按通道、行、列的顺序把特征图排成一个向量。"),
    "rule.flatten": ("channel, then row, then column", "先通道，再行，再列"),
    "why.flatten_hwc": ("Flatten lays the maps out as one vector in HWC order, as Keras' Flatten "
                        "on NHWC maps: row, then column, then channel (the channel runs "
                        "fastest).",
                        "展平：按 HWC 顺序（与 Keras 在 NHWC 特征图上的 Flatten 相同）把特征图排成"
                        "一个向量：先行，再列，再通道（通道变化最快）。"),
    "rule.flatten_hwc": ("row, then column, then channel (HWC order)",
                         "先行，再列，再通道（HWC 顺序）"),
    "note.flatten_hwc": ("row {row}, column {col}, channel {channel} -- HWC order",
                         "第 {row} 行，第 {col} 列，第 {channel} 通道——HWC 顺序"),
    "note.flatten_hwc_1d": ("position {col}, channel {channel} -- HWC order",
                            "第 {col} 个位置，第 {channel} 通道——HWC 顺序"),
    "why.dense": ("A dense layer: each output is its row of weights times the input vector, "
                  "plus its bias (y = W x + b).",
                  "全连接层：每个输出等于对应的一行权重与输入向量的乘积，"
                  "再加上偏置（y = W x + b）。"),
    "rule.dense": ("row of weights times input plus bias", "一行权重乘以输入，再加偏置"),
    "why.dense_in_out": ("A dense layer with its weights written in x out: each output is the "
                         "input vector times its column of weights, plus its bias "
                         "(y = x W + b).",
                         "全连接层（权重按 输入 x 输出 书写）：每个输出等于输入向量与对应的一列"
                         "权重的乘积，再加上偏置（y = x W + b）。"),
    "rule.dense_in_out": ("input times column of weights plus bias",
                          "输入乘以一列权重，再加偏置"),
    "why.conv_weights": ("Each weight meets one input in every window, so dL/d{w} sums dL/d{z} "
                         "times that input over all output positions (the correlation of X with "
                         "dL/dZ).",
                         "每个权重在每个窗口里都与一个输入相乘，所以 dL/d{w} 是所有输出位置上 "
                         "dL/d{z} 与该输入的乘积之和（即 X 与 dL/dZ 的互相关）。"),
    # a layer of a network: its own input and output gradient ({X}: relu1, {dZ}: dL/dconv2)
    "why.conv_weights.layer": ("Each weight meets one input in every window, so dL/d{w} sums "
                               "dL/d{z} times that input over all output positions (the "
                               "correlation of {X} with {dZ}).",
                               "每个权重在每个窗口里都与一个输入相乘，所以 dL/d{w} "
                               "是所有输出位置上 dL/d{z} 与该输入的乘积之和（即 {X} 与 {dZ} "
                               "的互相关）。"),
    "rule.dW": ("sum over outputs of dL/dz · the input the weight met",
                "对所有输出求和：dL/dz · 该权重遇到的输入"),
    "rule.db": ("the bias is in every output of its filter: the sum of dL/dz",
                "偏置出现在该滤波器的每个输出中：dL/dz 之和"),
    "why.conv_input": ("Each input meets the weights of every window that covers it: dL/d{x} sums "
                       "dL/d{z} times that weight (a full convolution of dL/dZ with the kernel "
                       "rotated 180 degrees).",
                       "每个输入与覆盖它的每个窗口中的权重相乘：dL/d{x} 是 dL/d{z} 与该权重的"
                       "乘积之和（即 dL/dZ 与旋转 180 度的卷积核做全卷积）。"),
    "why.conv_input.layer": ("Each input meets the weights of every window that covers it: "
                             "dL/d{x} sums dL/d{z} times that weight (a full convolution of {dZ} "
                             "with the kernel rotated 180 degrees).",
                             "每个输入与覆盖它的每个窗口中的权重相乘：dL/d{x} 是 dL/d{z} 与该权重的"
                             "乘积之和（即 {dZ} 与旋转 180 度的卷积核做全卷积）。"),
    "rule.dX": ("sum over windows covering the input of dL/dz · the weight it met",
                "对覆盖该输入的所有窗口求和：dL/dz · 它遇到的权重"),
    "why.activation_back": ("Chain rule through {name}: dL/dz = dL/da · f'(z), with {rule}.",
                            "经过 {name} 的链式法则：dL/dz = dL/da · f'(z)，其中 {rule}。"),
    "why.pool_back": ("Each window's gradient {routed}; overlapping windows add up.",
                      "每个窗口的梯度{routed}；窗口重叠时梯度相加。"),
    "routed.max": ("goes to the winner of its window (the first maximum); every other input "
                   "gets 0",
                    "全部传给该窗口的最大值位置（第一个最大值），其余输入得到 0"),
    "routed.avg": ("is shared equally: each input gets dL/dp/{n}",
                   "平均分配：每个输入得到 dL/dp/{n}"),
    "why.flatten_back": ("The gradient vector is folded back into the maps in the same order: "
                         "channel, then row, then column.",
                         "梯度向量按相同的顺序（通道、行、列）还原成特征图的形状。"),
    "rule.flatten_back": ("the same position, reshaped", "同一位置，只是形状还原"),
    "why.flatten_hwc_back": ("The gradient vector is folded back into the maps in the same "
                             "order: row, then column, then channel (HWC).",
                             "梯度向量按相同的顺序（行、列、通道：HWC）还原成特征图的形状。"),
    "why.dense_back": ("y = W x + b: dL/dW is dL/dy times x (an outer product), dL/db = dL/dy, "
                       "dL/dx = W^T dL/dy.",
                       "y = W x + b：dL/dW 是 dL/dy 与 x 的外积，dL/db = dL/dy，"
                       "dL/dx = W^T dL/dy。"),
    "rule.dense_dW": ("dL/dy · x", "dL/dy · x"),
    "why.dense_in_out_back": ("y = x W + b: dL/dW is x^T times dL/dy (an outer product, in x "
                              "out), dL/db = dL/dy, dL/dx = dL/dy W^T.",
                              "y = x W + b：dL/dW 是 x^T 与 dL/dy 的外积（输入 x 输出），"
                              "dL/db = dL/dy，dL/dx = dL/dy W^T。"),
    "rule.dense_in_out_dW": ("x · dL/dy", "x · dL/dy"),
    "rule.dense_db": ("each bias is in one output: dL/dy of that output, added up over the "
                      "samples of a batch",
                      "每个偏置只出现在一个输出中：该输出的 dL/dy（批量时对各样本求和）"),
    "rule.dense_dx": ("sum over outputs of dL/dy · weight", "对所有输出求和：dL/dy · 权重"),
    "why.softmax": ("Softmax turns each group of {n} values (dim: {dim}) into probabilities: "
                    "e^(x_i) divided by the sum of e^(x_j) over the group.",
                    "softmax 把每组 {n} 个值（dim: {dim}）变成概率：e^(x_i) 除以组内所有 "
                    "e^(x_j) 之和。"),
    "rule.softmax": ("softmax(x)_i = e^(x_i) / Σ_j e^(x_j), the sum over the group",
                     "softmax(x)_i = e^(x_i) / Σ_j e^(x_j)，在组内求和"),
    "why.softmax_back": ("Every output of a group depends on every input of the group: "
                         "dL/dx_j = Σ_i dL/dy_i · ∂y_i/∂x_j (the Jacobian product).",
                         "组内每个输出都依赖组内每个输入：dL/dx_j = Σ_i dL/dy_i · ∂y_i/∂x_j"
                         "（雅可比矩阵乘积）。"),
    "rule.softmax_back": ("∂y_i/∂x_j = y_i·(δ_ij - y_j)", "∂y_i/∂x_j = y_i·(δ_ij - y_j)"),
    "why.log_softmax": ("log_softmax takes the log of softmax over each group of {n} values "
                        "(dim: {dim}): x_i minus the log of the sum of e^(x_j) over the group.",
                        "log_softmax 对每组 {n} 个值（dim: {dim}）取 softmax 的对数：x_i 减去组内"
                        "所有 e^(x_j) 之和的对数。"),
    "rule.log_softmax": ("log_softmax(x)_i = x_i - log Σ_j e^(x_j), the sum over the group",
                         "log_softmax(x)_i = x_i - log Σ_j e^(x_j)，在组内求和"),
    "why.log_softmax_back": ("Every output of a group depends on every input of the group "
                             "through the log of the sum: dL/dx_j = Σ_i dL/dy_i · ∂y_i/∂x_j, "
                             "with ∂y_i/∂x_j = δ_ij - softmax(x)_j.",
                             "组内每个输出都通过求和的对数依赖组内每个输入：dL/dx_j = Σ_i "
                             "dL/dy_i · ∂y_i/∂x_j，其中 ∂y_i/∂x_j = δ_ij - softmax(x)_j。"),
    "rule.log_softmax_back": ("∂y_i/∂x_j = δ_ij - softmax(x)_j",
                              "∂y_i/∂x_j = δ_ij - softmax(x)_j"),
    "why.update": ("Gradient descent with learning rate {lr}: W_new = W - lr·dL/dW, "
                   "b_new = b - lr·dL/db.",
                   "学习率为 {lr} 的梯度下降：W_new = W - lr·dL/dW，b_new = b - lr·dL/db。"),
    "rule.update": ("old - lr · gradient", "原值 - lr · 梯度"),
    "rule.conv": ("sum over the window of input times weight, plus the bias",
                  "窗口内输入与权重乘积之和，再加偏置"),
    # transposed convolution (conv_transpose)
    "why.conv_transpose": ("Transposed convolution: each input entry scatters the kernel, "
                           "times itself, into the output, stride {stride} apart; where the "
                           "copies overlap they add up; padding {padding} is cut off each side, "
                           "and the bias is added.",
                           "转置卷积：每个输入元素把卷积核乘以自己，“撒”到输出上，相邻输入之间"
                           "错开步长 {stride}；各份重叠的地方相加；再从每边裁掉填充 {padding}，"
                           "最后加上偏置。"),
    "rule.scatter": ("each input entry times the kernel, added into the output cells it reaches",
                     "每个输入元素乘以卷积核，加到它所到达的输出位置上"),
    "rule.conv_transpose": ("the sum of every product that lands on the output, plus the bias",
                            "落在这个输出上的所有乘积之和，再加偏置"),
    "why.conv_transpose_weights": (
        "Weight {w} carried every input of its channel to one output cell: dL/d{w} sums "
        "dL/d{y} of that cell times the input it carried.",
        "权重 {w} 把它所在通道的每个输入送到一个输出位置：dL/d{w} 是该位置的 dL/d{y} "
        "与所送输入的乘积之和。"),
    "rule.conv_transpose_dW": ("sum over inputs of dL/dy at the cell the weight took it to · "
                               "that input",
                               "对所有输入求和：该权重送达位置的 dL/dy · 该输入"),
    "why.conv_transpose_input": (
        "Each input reached the output cells its kernel copy landed on: dL/d{x} sums dL/d{y} "
        "of those cells times the weight that took it there. That is a plain correlation of "
        "dL/dY with the kernel, stride {stride}: the forward pass of a convolution.",
        "每个输入通过卷积核到达若干输出位置：dL/d{x} 是这些位置的 dL/d{y} 与把它送过去的权重"
        "的乘积之和。这正是 dL/dY 与卷积核做步长为 {stride} 的互相关，即普通卷积的前向传播。"),
    "rule.conv_transpose_dX": ("sum over the cells the input reached of dL/dy · the weight",
                               "对该输入到达的所有位置求和：dL/dy · 权重"),
    "note.cut_off": ("its kernel lands only on the padding that is cut off",
                     "它的卷积核只落在被裁掉的填充上"),
    "matrix.scatter": ("{entry}·{w} in the output", "{entry}·{w} 在输出中的位置"),
    # batch normalisation (batch_norm)
    "why.batch_norm.train": ("Batch normalisation, train mode: each {unit} is normalised with "
                             "the mean and variance of its own {M} values, then scaled by gamma "
                             "and shifted by beta.",
                             "批归一化（训练模式）：每个{unit}用它自己 {M} 个值的均值和方差"
                             "做标准化，再乘以 gamma、加上 beta。"),
    "why.batch_norm.eval": ("Batch normalisation, eval mode: each {unit} is normalised with the "
                            "given running_mean and running_var, then scaled by gamma and "
                            "shifted by beta.",
                            "批归一化（推理模式）：每个{unit}用给定的 running_mean 和 "
                            "running_var 做标准化，再乘以 gamma、加上 beta。"),
    "rule.bn_mean": ("the mean of the {M} values of the {unit}", "该{unit}的 {M} 个值的平均值"),
    "rule.bn_var": ("the mean of the squared distances from the mean (biased: divided by {M})",
                    "与均值之差的平方的平均值（有偏：除以 {M}）"),
    "rule.bn_sigma": ("{formula}: the standard deviation; eps keeps it above 0",
                      "{formula}：标准差；eps 保证它大于 0"),
    "rule.bn_xhat": ("{formula}: each value minus the mean of its {unit}, divided by its sigma",
                     "{formula}：每个值减去所在{unit}的均值，再除以该{unit}的 sigma"),
    "rule.bn_out": ("xhat scaled by gamma and shifted by beta, one pair per {unit}",
                    "xhat 乘以 gamma 再加上 beta，每个{unit}一对"),
    "unit.channel": ("channel", "通道"),
    "unit.unit": ("unit", "单元"),
    "why.batch_norm_params": ("{formula}: each gamma multiplies every xhat of its "
                              "{unit}, each beta is added to every output of it; so dL/dgamma "
                              "sums dL/dy·xhat and dL/dbeta sums dL/dy, over the {unit}'s {M} "
                              "values.",
                              "{formula}：gamma 乘以该{unit}的每个 xhat，beta 加到"
                              "它的每个输出上；所以 dL/dgamma 是 dL/dy·xhat 之和，dL/dbeta 是 "
                              "dL/dy 之和，对该{unit}的 {M} 个值求和。"),
    "rule.bn_dgamma": ("sum over the {unit} of dL/dy · xhat", "对该{unit}求和：dL/dy · xhat"),
    "rule.bn_dbeta": ("sum over the {unit} of dL/dy", "对该{unit}求和：dL/dy"),
    "why.batch_norm_back.train": (
        "The mean and the variance are made of every x of the {unit}, so each x reaches the "
        "loss three ways: through its own xhat (first term: dL/dy), through the mean, which "
        "moves every xhat of the {unit} (second: the mean of dL/dy, dL/dbeta/{M}), and through "
        "the variance (third: xhat times the mean of dL/dy·xhat, dL/dgamma/{M}). All three "
        "are scaled by gamma/sigma: {formula}.",
        "均值和方差由该{unit}的每个 x 算出，所以每个 x 通过三条路径影响损失：经过它自己的 "
        "xhat（第一项：dL/dy），经过均值——均值会移动该{unit}的每个 xhat（第二项：dL/dy "
        "的平均值 dL/dbeta/{M}），以及经过方差（第三项：xhat 乘以 dL/dy·xhat 的平均值 "
        "dL/dgamma/{M}）。三项都乘以 gamma/sigma：{formula}。"),
    "why.batch_norm_back.eval": (
        "In eval mode the mean and the variance are given numbers, not made of x: the only "
        "path back is through xhat, {formula}.",
        "推理模式下均值和方差是给定的数，与 x 无关：只有经过 xhat 这一条路径，{formula}。"),
    "rule.bn_dx.train": ("gamma/sigma · (first - second - third)",
                         "gamma/sigma · (第一项 - 第二项 - 第三项)"),
    "rule.bn_dx.eval": ("gamma/sigma · dL/dy", "gamma/sigma · dL/dy"),
    "title.layer_params": ("Backward: {layer} gamma and beta",
                           "反向传播：{layer} 的 gamma 和 beta"),
    # facts of the problem
    "fact.name": ("Problem: {name}", "题目：{name}"),
    "fact.input": ("Input X: {shape}", "输入 X：{shape}"),
    "fact.conv": ("{layer}: kernel {kernel} ({filters}), stride {stride}, dilation {dilation}, "
                  "{mode}",
                  "{layer}：卷积核 {kernel}（{filters}），步长 {stride}，膨胀 {dilation}，{mode}"),
    "fact.filters": ("{F} filter{s} of {C} x {KH} x {KW}", "{F} 个 {C} x {KH} x {KW} 的滤波器"),
    "fact.conv_groups": ("{layer}: groups {groups}: the {C} input channels in {groups} groups of "
                    "{Cg}; each group has {Fg} filter{s}, and each filter reads only its "
                    "group's channels{depthwise}",
                    "{layer}：分组 {groups}：{C} 个输入通道分成 {groups} 组，每组 {Cg} 个；"
                    "每组有 {Fg} 个滤波器，每个滤波器只读取本组的通道{depthwise}"),
    "fact.depthwise": (" (depthwise: one channel per group)",
                       "（逐通道卷积 depthwise：每组一个通道）"),
    "fact.filters_1d": ("{F} filter{s} of {C} x {K}", "{F} 个 {C} x {K} 的滤波器"),
    "fact.padding_1d": ("{layer}: padding {text}: left {left}, right {right}",
                        "{layer}：填充 {text}：左 {left}，右 {right}"),
    "fact.not_flipped": ("cross-correlation (kernel not flipped)", "互相关（卷积核不翻转）"),
    "fact.flipped": ("kernel rotated 180 degrees (true convolution)",
                     "卷积核旋转 180 度（真正的卷积）"),
    "fact.padding": ("{layer}: padding {text}: top {top}, bottom {bottom}, left {left}, "
                     "right {right}",
                     "{layer}：填充 {text}：上 {top}，下 {bottom}，左 {left}，右 {right}"),
    "fact.padding_mode": ("{layer}: padding mode {mode}: {rule}",
                          "{layer}：填充方式 {mode}：{rule}"),
    "pad.reflect": ("each padded cell copies the input cell mirrored across the edge (the edge "
                    "itself not repeated), so its gradient flows back to that cell",
                    "每个填充格复制以边缘为镜面对称的输入格（边缘本身不重复），"
                    "其梯度也回传给那个输入格"),
    "pad.replicate": ("each padded cell copies the nearest edge cell of the input, so its "
                      "gradient flows back to that cell",
                      "每个填充格复制最近的输入边缘格，其梯度也回传给那个输入格"),
    "pad.circular": ("each padded cell copies the cell on the opposite side of the input (it "
                     "wraps around), so its gradient flows back to that cell",
                     "每个填充格复制输入另一侧的格子（首尾相接），其梯度也回传给那个输入格"),
    "fact.pool": ("{layer}: {kind} pooling {size}, stride {stride}, no padding: {before} -> "
                  "{after}", "{layer}：{kind}池化 {size}，步长 {stride}，无填充：{before} -> "
                  "{after}"),
    "fact.flatten": ("{layer}: {shape} -> {n} values", "{layer}：{shape} -> {n} 个值"),
    "fact.dense_in_out": ("{layer}: dense {n_in} -> {n_out}, weights {n_in} x {n_out} (in x "
                          "out: y = x W + b)",
                          "{layer}：全连接 {n_in} -> {n_out}，权重 {n_in} x {n_out}（输入 x 输出："
                          "y = x W + b）"),
    "fact.dense": ("{layer}: dense {n_in} -> {n_out} (y = W x + b)",
                   "{layer}：全连接 {n_in} -> {n_out}（y = W x + b）"),
    "fact.softmax": ("{layer}: softmax (dim: {dim}), {groups} group(s) of {n} values, each "
                     "summing to 1: {shape} -> {shape}",
                     "{layer}：softmax（dim: {dim}），{groups} 组，每组 {n} 个值，各组之和为 1："
                     "{shape} -> {shape}"),
    "fact.conv_transpose": ("{layer}: transposed convolution, kernel {kernel} ({filters}), "
                            "stride {stride}, padding {padding}, output_padding "
                            "{output_padding}, dilation {dilation}{groups}",
                            "{layer}：转置卷积，卷积核 {kernel}（{filters}），步长 {stride}，"
                            "填充 {padding}，output_padding {output_padding}，膨胀 "
                            "{dilation}{groups}"),
    "fact.transpose_filters": ("{C} input channel(s) -> {F} filter(s), {KH} x {KW}",
                               "{C} 个输入通道 -> {F} 个滤波器，{KH} x {KW}"),
    "fact.groups": (", groups {groups}", "，分组 {groups}"),
    "fact.batch_norm": ("{layer}: batch normalisation of {C} {unit}(s) of {M} values each, "
                        "{mode}, eps {eps}: {shape} -> {shape}",
                        "{layer}：批归一化，{C} 个{unit}，每个 {M} 个值，{mode}，eps {eps}："
                        "{shape} -> {shape}"),
    "mode.train": ("train mode (the batch's own mean and biased variance)",
                   "训练模式（用这批数据自己的均值和有偏方差）"),
    "mode.eval": ("eval mode (running_mean and running_var)",
                  "推理模式（用 running_mean 和 running_var）"),
    "fact.log_softmax": ("{layer}: log_softmax (dim: {dim}), {groups} group(s) of {n} values: "
                         "{shape} -> {shape}",
                         "{layer}：log_softmax（dim: {dim}），{groups} 组，每组 {n} 个值："
                         "{shape} -> {shape}"),
    "fact.loss": ("Loss: {loss}, {what}: {formula}", "损失：{loss}，{what}：{formula}"),
    "fact.pool_padded": ("{layer}: {kind} pooling {size}, stride {stride}, padding {padding} "
                         "(top {top}, bottom {bottom}, left {left}, right {right}): {before} "
                         "-> {after}",
                         "{layer}：{kind}池化 {size}，步长 {stride}，填充 {padding}（上 {top}，"
                         "下 {bottom}，左 {left}，右 {right}）：{before} -> {after}"),
    "fact.pool_fill.max": ("{layer}: the padding holds -∞, which never wins a window "
                           "(pool_padding)",
                           "{layer}：填充为 -∞，不会成为窗口的最大值（pool_padding）"),
    "fact.pool_fill.avg_counted": ("{layer}: each mean divides by the window's cells inside the "
                                   "padded input, padding counted as 0 (avg_count_padding true)",
                                   "{layer}：每个平均值除以窗口落在填充后输入内的格数，填充按 0 计"
                                   "（avg_count_padding true）"),
    "fact.pool_fill.avg_real": ("{layer}: each mean divides by the window's input cells only, "
                                "padding not counted (avg_count_padding false)",
                                "{layer}：每个平均值只除以窗口内输入格的个数，不计填充"
                                "（avg_count_padding false）"),
    "fact.pool_ceil": ("{layer}: ceil mode (pool_ceil true): the output size rounds up, keeping "
                       "a last partial window unless it would start in the padding; its cells "
                       "past the edge hold nothing",
                       "{layer}：向上取整（pool_ceil true）：保留最后一个不完整的窗口（除非它从"
                       "填充中开始）；超出边缘的格不含任何值"),
    "fact.max_ties": ("{layer}: tied maxima (max_ties {ties}): {rule}",
                      "{layer}：并列最大值（max_ties {ties}）：{rule}"),
    "ties.first": ("the first in row-major order gets the window's gradient",
                   "按行优先顺序的第一个得到窗口的梯度"),
    "ties.last": ("the last in row-major order gets the window's gradient",
                  "按行优先顺序的最后一个得到窗口的梯度"),
    "ties.all": ("each of them gets the whole of the window's gradient",
                 "每一个都得到窗口的全部梯度"),
    "ties.split": ("they share the window's gradient equally", "它们平分窗口的梯度"),
    "rule.max_pool_tied": ("the largest element of each window; on a tie {ties}",
                           "每个窗口的最大元素；并列时{ties}"),
    "routed.max_last": ("goes to the last maximum of its window; every other input gets 0",
                        "传给窗口中最后一个最大值，其余输入得 0"),
    "routed.max_all": ("goes whole to every tied maximum of its window (max_ties all); every "
                       "other input gets 0",
                       "全部传给窗口中每一个并列最大值（max_ties all），其余输入得 0"),
    "routed.max_split": ("is split equally among the tied maxima of its window (max_ties "
                         "split); every other input gets 0",
                         "由窗口中的并列最大值平分（max_ties split），其余输入得 0"),
    "routed.avg_divisor": ("is shared among its cells: each input gets dL/dp divided by the "
                           "cells its window counts",
                           "由窗口各格分担：每个输入得到 dL/dp 除以该窗口计入的格数"),
    "fact.conventions": ("Conventions ({profile}): {keys}", "约定（{profile}）：{keys}"),
    "fact.leaky_kink": ("leaky_relu'(0) = {value} (kink {kink}: {meaning})",
                        "leaky_relu'(0) = {value}（kink {kink}：{meaning}）"),
    "fact.leaky_kink_layers": ("leaky_relu'(0) = {value} in {layers} (kink {kink}: {meaning})",
                               "{layers} 中 leaky_relu'(0) = {value}（kink {kink}：{meaning}）"),
    "kink.slope": ("the slope", "即斜率"),
    "kink.one": ("the slope for z > 0", "即 z > 0 时的斜率"),
    "kink.between": ("halfway between the slope and 1", "斜率与 1 的中点"),
    "loss.mse": ("the mean of the squared errors", "均方误差（平方误差的平均值）"),
    "loss.sse": ("the sum of the squared errors", "平方误差之和"),
    "loss.half_sse": ("half the sum of the squared errors", "平方误差之和的一半"),
    "loss.mae": ("the mean of the absolute errors", "绝对误差的平均值"),
    "loss.bce": ("binary cross-entropy, the mean over the outputs", "二元交叉熵，对所有输出取平均"),
    "loss.cross_entropy": ("softmax over all outputs, then cross-entropy",
                           "对所有输出做 softmax，再求交叉熵"),
    "loss.cross_entropy_batch": ("softmax over each sample's outputs, then cross-entropy, "
                                 "averaged over the samples",
                                 "对每个样本的输出做 softmax，再求交叉熵，然后对样本取平均"),
    "loss.cross_entropy_channels": ("softmax over the channels at each position, then "
                                    "cross-entropy, the mean over the positions",
                                    "在每个位置对各通道做 softmax，再求交叉熵，对所有位置取平均"),
    "loss.nll": ("negative log-likelihood of log-probabilities", "对数概率的负对数似然"),
    "loss.nll_batch": ("negative log-likelihood of each sample's log-probabilities, the mean "
                       "over the samples", "每个样本对数概率的负对数似然，对样本取平均"),
    "loss.nll_channels": ("negative log-likelihood of the log-probabilities over the channels "
                          "at each position, the mean over the positions",
                          "每个位置上各通道对数概率的负对数似然，对所有位置取平均"),
    "loss.cross_entropy_probs": ("cross-entropy of probabilities", "概率的交叉熵"),
    "loss.cross_entropy_probs_batch": ("cross-entropy of each sample's probabilities, the mean "
                                       "over the samples", "每个样本概率的交叉熵，对样本取平均"),
    "loss.cross_entropy_probs_channels": ("cross-entropy of the probabilities over the "
                                          "channels at each position, the mean over the "
                                          "positions",
                                          "每个位置上各通道概率的交叉熵，对所有位置取平均"),
    "fact.no_loss": ("Loss: none; dL/dY is given (grad_output)",
                     "没有损失函数：直接给定 dL/dY（grad_output）"),
    "fact.forward_only": ("Forward pass only: the backward pass needs a target or grad_output",
                          "只有前向传播：反向传播需要 target 或 grad_output"),
    "fact.learning_rate": ("Learning rate: {lr}", "学习率：{lr}"),
    "fact.batch": ("Batch: {n} samples, the first index of the input, the target and every "
                   "output; each layer works on each sample alone, and dW and db add up the "
                   "terms of every sample",
                   "批量：{n} 个样本，是输入、目标和每个输出的第一个下标；每层对每个样本单独计算，"
                   "dW 和 db 把所有样本的项加起来"),
    "fact.arithmetic": ("Arithmetic: {mode}", "运算：{mode}"),
    "fact.long_numbers": ("Numbers of more than {digits} digits are shown to 6 significant "
                          "figures, marked ≈ (solve --json gives every digit)",
                          "超过 {digits} 位的数只显示 6 位有效数字，并标以 ≈"
                          "（solve --json 给出全部数字）"),
    "arith.exact": ("exact fractions", "精确分数"),
    "arith.float": ("float64", "float64 浮点数"),
    # notes and matrix titles
    "note.from": ("from {cell}", "来自 {cell}"),
    "note.kink": ("{z} = 0, the kink: {name}'(0) = {value} by the kink convention",
                  "{z} = 0，即拐点：按约定 kink，{name}'(0) = {value}"),
    "note.mae_kink": ("y = t, the kink of |y - t|: its derivative there is {kink} by the kink "
                      "convention",
                      "y = t，即 |y - t| 的拐点：按约定 kink，该处导数为 {kink}"),
    "note.and": ("{a}; {b}", "{a}；{b}"),
    # a note after a term or a table, in the brackets of its language: (from a12), （来自 a12）
    "note.aside": ("({note})", "（{note}）"),
    # input rows or columns that no window meets, after "its dL/dx is 0": the warning's
    # message in English; in Chinese its layer, axis and 1-based positions
    "notice.missed": ("{message}", "{layer}：输入第 {positions} {axis}"),
    "note.rows": (" ({note})", "（{note}）"),
    "note.pool_pad_never": ("padding (-∞) never wins", "填充（-∞）不会被选中"),
    "note.pool_past_edge": ("the window runs past the edge (ceil mode)",
                            "窗口超出了边缘（向上取整）"),
    "note.pool_pad_counted": ("{n} padding cells count as 0 (avg_count_padding true)",
                              "{n} 个填充格按 0 计入（avg_count_padding true）"),
    "note.pool_pad_counted.one": ("{n} padding cell counts as 0 (avg_count_padding true)",
                                  "{n} 个填充格按 0 计入（avg_count_padding true）"),
    "note.pool_fewer": ("divided by the {counted} cells it counts, not {size}",
                        "除以计入的 {counted} 个格，而不是 {size}"),
    "note.pool_fewer.one": ("divided by the {counted} cell it counts, not {size}",
                            "除以计入的 {counted} 个格，而不是 {size}"),
    "note.tied.last": ("tied: {cells}; the last gets the gradient (max_ties last)",
                       "并列：{cells}；梯度给最后一个（max_ties last）"),
    "note.tied.all": ("tied: {cells}; each gets the whole gradient (max_ties all)",
                      "并列：{cells}；每个都得到全部梯度（max_ties all）"),
    "note.tied.split": ("tied: {cells}; each gets 1/{n} of the gradient (max_ties split)",
                        "并列：{cells}；每个得到梯度的 1/{n}（max_ties split）"),
    "note.tied_back.all": ("a tied maximum of {windows}: the whole gradient (max_ties all)",
                           "是 {windows} 的并列最大值之一：得到全部梯度（max_ties all）"),
    "note.tied_back.split": ("a tied maximum of {windows}: an equal share (max_ties split)",
                             "是 {windows} 的并列最大值之一：平分梯度（max_ties split）"),
    "note.uncovered": ("no kernel tap meets this input", "没有任何卷积核位置覆盖这个输入"),
    "note.rest_zero": ("every other entry of dL/d{name} is 0", "dL/d{name} 的其余元素都是 0"),
    "matrix.padded_copies": ("{name} padded, {mode} (padding in parentheses: copies of "
                             "input cells)",
                             "{name} 按 {mode} 方式填充后（括号内为填充：输入格的副本）"),
    "matrix.padded": ("{name} padded (padding in parentheses)", "{name} 填充后（括号内为填充）"),
    "matrix.target": ("Target", "目标"),
    "axis.sample": ("sample", "样本"),
    "axis.channel": ("channel", "通道"),
    "axis.filter": ("filter", "滤波器"),
    "axis.slice": ("slice", "切片"),
    "axis.row": ("row", "行"),
    "axis.column": ("column", "列"),
    "more.same_rule": ("... {n} more, same rule", "……还有 {n} 个，规则相同"),
    "more.not_shown": ("{title}: {n} not shown (--terms all shows them)",
                       "{title}：{n} 个未显示（--terms all 全部显示）"),
    "more.slices": ("... {n} more slices of {title}", "……{title} 还有 {n} 个切片"),
    "more.slices_hint": ("(--terms all shows them)", "（--terms all 全部显示）"),
    "more.slices_hint.all": ("(--all shows them)", "（--all 全部显示）"),
    # the middle of a long sum, left out under --terms auto
    "more.terms": ("({n} more terms)", "（还有 {n} 项）"),
    # a list inside a sentence or a caption: "W, filter 1, channel 2", "W，滤波器 1，通道 2"
    "list.sep": (", ", "，"),
    # a document's title, then the problem's name: "Solution: 3x3 input", "解答：3x3 input"
    "list.colon": (": ", "："),
    # the rows and columns of a large matrix a walkthrough step shows (render/crop.py)
    "crop.both": ("rows {r0}-{r1}, columns {c0}-{c1} of {h}",
                  "第 {r0}-{r1} 行、第 {c0}-{c1} 列（共 {h} 行 {w} 列）"),
    "crop.both_sizes": ("rows {r0}-{r1} of {h}, columns {c0}-{c1} of {w}",
                        "第 {r0}-{r1} 行、第 {c0}-{c1} 列（共 {h} 行 {w} 列）"),
    "crop.rows": ("rows {r0}-{r1} of {h}", "第 {r0}-{r1} 行（共 {h} 行）"),
    "crop.columns": ("columns {c0}-{c1} of {w}", "第 {c0}-{c1} 列（共 {w} 列）"),
    # the walkthrough (explain)
    "step.step": ("Step {n}: {title}", "第 {n} 步：{title}"),
    "step.padding": ("Padding", "填充"),
    "step.padding.why": ("Zeros are added around the input so that the kernel can also be "
                         "centred on the border; the pad cells are in parentheses.",
                    "在输入四周补零，让卷积核也能覆盖边缘；括号中的是填充的零。"),
    "step.padding.why.copies": ("The input is padded with {mode} ({rule}); the pad cells "
                                "are in parentheses. A weight on a pad cell multiplies the "
                                "input cell it copies, and dL/dX adds up there.",
                                "输入按 {mode} 方式填充：{rule}；括号中的是填充格。落在填充格上"
                                "的权重乘的是它复制的输入格，dL/dX 也在那里累加。"),
    "step.padding.none": ("No padding: the kernel only visits positions where it fits inside X.",
                     "没有填充：卷积核只在完全落在 X 内部的位置上滑动。"),
    "step.loss.L": ("The loss", "损失函数"),
    "step.loss.dY": ("dL/dY: the derivative of the loss", "dL/dY：损失函数的导数"),
    "step.loss.dY.why": ("Differentiate the loss with respect to each output: {rule}.",
                    "对每个输出求损失的导数：{rule}。"),
    "step.db": ("dL/db", "dL/db"),
    "step.db.why": ("The bias is added to every output of its filter, so dL/db is the sum of dL/dZ "
               "over that filter.", "偏置加在该滤波器的每一个输出上，所以 dL/db 等于该滤波器 "
               "dL/dZ 的总和。"),
    "step.db.why.layer": ("The bias is added to every output of its filter, so {b} is the sum "
                          "of {dz} over that filter.",
                          "偏置加在该滤波器的每一个输出上，所以 {b} 等于该滤波器 {dz} 的总和。"),
    "step.uncovered": ("An input that no window covers gets no term: its dL/dx is 0{rows}.",
                  "没有被任何窗口覆盖的输入不产生任何项：它的 dL/dx 为 0{rows}。"),
    "step.the_rest": ("the other entries, same rule", "其余元素，规则相同"),
    "step.result": ("the result", "结果"),
    "step.highlight": ("highlighted: the cells this number is made of", "高亮：构成这个数的元素"),
    "step.highlight.plain": ("[ ] marks the cells this number is made of",
                        "[ ] 标出构成这个数的元素"),
    "step.highlight.scatter": ("highlighted: the entry, the weights it is multiplied by and "
                               "where the products go", "高亮：这个元素、与它相乘的权重，以及乘积"
                               "所加到的输出位置"),
    "step.highlight.scatter.plain": ("[ ] marks the entry, the weights it is multiplied by and "
                                     "where the products go",
                                     "[ ] 标出这个元素、与它相乘的权重，以及乘积所加到的输出位置"),
    "step.prompt": ("Enter: next step, q: quit", "回车：下一步，q：退出"),
    "step.warnings.list": ("Warnings:", "警告："),
    "notice.item": ("- {notice}", "- {notice}"),
    # a warning on standard error (cli)
    "notice.warning": ("warning: {notice}", "警告：{notice}"),
    # a warning about input rows or columns that a layer never reads: its message in English;
    # in Chinese from its data (render/document.notice_words)
    "notice.uncovered": ("{message}",
                         "{layer}：输入第 {positions} {axis}对输出没有任何贡献（没有窗口让它"
                         "与卷积核相乘，或它只落在被裁掉的填充上），其 dL/dX 为 0"),
    "notice.pool_dropped": ("{message}",
                            "{layer}：输入第 {positions} {axis}落在每个池化窗口之外，被丢弃，"
                            "其梯度为 0"),
}


def sentences(key: str) -> tuple[str, str]:
    """The sentence `key` in every language (LANGUAGES' order): from WORDS, or the words of a
    kind of layer added with convgrad.layers.register (its class's `words`)."""
    if key in WORDS:
        return WORDS[key]
    # Imported on a miss only: the built-in words need nothing of the engine.
    from convgrad.layers import added_classes

    for cls in added_classes():
        if key in cls.words:
            return cls.words[key]
    raise KeyError(key)


def say(key: str, lang: str = "en", **fields: object) -> str:
    """The sentence `key` in `lang`, with its fields filled in."""
    en, zh = sentences(key)
    return (zh if lang == "zh" else en).format(**fields)


def joined(parts: Iterable[str], lang: str = "en") -> str:
    """Sentences one after the other: a space between them in English, none in Chinese, whose
    full-width punctuation ("（--terms all 全部显示）") carries its own space."""
    return ("" if lang == "zh" else " ").join(parts)


# The language of the few words inside formulas ("1 if z > 0, else 0", "the mean over the N
# samples"). The formula tables (render/terminal.py, render/texmath.py) write a formula from
# the trace's operands alone, with no language to hand, so each writer of a document says its
# language for as long as it writes (formulas_in); outside of one, formulas are in English.
_FORMULA_LANG: ContextVar[str] = ContextVar("formula_lang", default="en")


@contextmanager
def formulas_in(lang: str) -> Iterator[None]:
    """Write the formulas' words in `lang` inside the with block."""
    token = _FORMULA_LANG.set(lang)
    try:
        yield
    finally:
        _FORMULA_LANG.reset(token)


def in_formula_language(en: dict[str, str], zh: dict[str, str], key: str) -> str:
    """Formula `key` from the English table, or from the Chinese one (which holds only the
    formulas that have words) while formulas are written in Chinese."""
    if _FORMULA_LANG.get() == "zh" and key in zh:
        return zh[key]
    return en[key]


def formula_lang() -> str:
    """The language formulas are written in now: "en" or "zh"."""
    return _FORMULA_LANG.get()
