"""Every threshold the doctor decides with, in one place, each with the reason for its value.

(Confidences are scores, set beside the rule that gives them. Values that depend on the
run's data, such as the accuracy of always predicting one label, are computed from its
class balance: core/schema/class_balance.py.)

Calibrated on real tblab runs, not copied from the published tools (whose global
constants raise false alarms on healthy MNIST nets: DeepDiagnosis' 70%-dead rule gave
35 false "dead node" symptoms on 78 healthy models). The runs: the 9 failing
scenarios, the baseline and the 15 healthy variants of bench/doctor_eval.py (1-3 layer
sigmoid/tanh/ReLU nets, SGD 0.01-0.5, momentum, Adam 1e-3/3e-3), 2000 steps each on
the 5000-digit offline MNIST sample. "Healthy max" below is the largest value any healthy run showed.
"""

# --- windows ---------------------------------------------------------------------
TAIL_RECORDS = 200  # the recent past a check reads; a check costs O(this), never O(run length)
HEAD_RECORDS = 10  # the start of the run: init problems show in the first steps
WINDOW = 20  # records a verdict about "now" is taken over: batch noise averages out
MIN_RECORDS = 10  # no verdict from fewer records (a single batch is too noisy)
# Keras logs with only epoch_* values: one record per epoch, so fewer records must do.
EPOCH_MIN_RECORDS = 3
EPOCH_MIN_SPAN = 2  # epochs a "stuck" verdict needs (3 epoch-end values)

# --- live checking ------------------------------------------------------------------
CHECK_EVERY = 10  # steps between live checks at first: findings appear within ~10 steps
# Share of the time between checks that the rules may take. The issue allows the doctor 1%
# of training time; taking the records costs another ~0.1-0.2% (2-4 us a step), and a check
# beside a training loop runs 2-4x slower than alone (0.3-1 ms alone). Checks start every
# CHECK_EVERY steps and double their spacing while one costs more than this share of the
# time since the last: on this machine they settle at every 80-160 steps (2-5 ms a step).
# Init problems are flagged by the first checks (steps 0-20), before any spacing out.
CHECK_BUDGET = 0.007
CHECK_EVERY_MAX = 1000  # however slow checks get, a long run is still checked now and then
# Halve the spacing again only when a check costs under 1/CHECK_RELAX of the budget: a
# margin so the spacing does not flip back and forth around the budget.
CHECK_RELAX = 4
# Offline replay: checks over a long log, enough to place first-seen steps within 0.25%.
REPLAY_CHECKS = 400

# --- exploding --------------------------------------------------------------------
# He init keeps ReLU activation std roughly constant layer to layer (growth ~1.0-1.2
# per layer in healthy 1-3 layer nets); fail1's U(-0.4, 0.4) grows it ~1.55x per layer.
EXPLODE_LAYER_GROWTH = 1.35
EXPLODE_MIN_LAYERS = 3  # a growth rate needs at least 2 layer-to-layer steps
# Hidden activation std: healthy max 2.5 (Adam 3e-3); fail1 28.6 at step 0, fail6 (raw pixels) 87.
EXPLODE_ACTIVATION_STD = 10.0
# Per-variable kernel gradient norm: healthy max 4.9; fail1 78-161 at step 0 (in every layer
# alike, which AUTOTRAINER's first/last-layer ratio rule cannot see), fail6 124.
EXPLODE_GRAD_NORM = 20.0
HEALTHY_GRAD_NORM_MAX = 4.9  # quoted in the evidence
# A loss far above chance (ln 10 = 2.30) at the first steps means the logits are huge.
# Loss at step 0: healthy 2.31-2.48; fail1 78.4, fail6 30.2.
EXPLODE_LOSS = 20.0
# Foreign logs without scalars: a kernel histogram whose range grew this many times over
# the run, or past EXPLODE_HIST_RANGE. Healthy kernels stay within ~+-1 (init +-0.1-0.3,
# grown a few times by training); a 100-fold growth or a 1000-wide range is far past that.
EXPLODE_HIST_GROWTH = 100.0
EXPLODE_HIST_RANGE = 1e3
# The evidence for a NaN names the largest activation std or gradient norm just before it,
# when above 1: anything smaller is ordinary and does not explain an overflow.
NONFINITE_PRECURSOR = 1.0

# --- vanishing --------------------------------------------------------------------
# Orders of magnitude between the largest kernel gradient norm and the first layer's.
# Healthy max 0.75 orders (2-layer sigmoid); fail2 6.4, fail9 (zero init) 5.6.
VANISH_ORDERS = 3.0
VANISH_FIRST_LAYER = 1e-3  # and the first layer's norm must itself be small

# --- dead ReLU ----------------------------------------------------------------------
# dead_fraction is "units at 0 for the whole batch". Its minimum over a window of
# WINDOW batches bounds the share of units dead on every one of them. Healthy max of
# that minimum: 0.08 (per-batch values reach 0.3 and more); fail3 1.0 from step 0,
# fail8 (Adam 0.05) 0.86, fail6 (raw pixels) 1.0.
DEAD_UNITS = 0.5  # a layer with half its units dead on every batch has lost capacity
DEAD_UNITS_CRITICAL = 0.9  # nearly nothing passes: the layer blocks all learning below it

# A value counts as exactly zero (a histogram of zeros, identical weights) within float
# rounding: bucket edges are float64 written from float32 tensors.
EXACTLY_ZERO = 1e-12

# --- saturated sigmoid/tanh ------------------------------------------------------
# Share of outputs within 1% of an asymptote (local slope < 1/25 of the peak), window
# median: healthy max 0.20 (sigmoid, Adam); DeepDiagnosis' bar is 0.5.
SATURATED_FRACTION = 0.5
SATURATED_CRITICAL = 0.9
# Or, from activation histograms at the start: the units' slope averaged over the histogram
# (relative to its peak: the share of the gradient the average unit passes back). A
# variance-scaled init keeps the pre-activations in the sloped middle: healthy starts measured
# 0.63-0.96 (Glorot, He, the TF tutorial's N(0, 0.1)); weights too large for the width start at
# 0.22-0.27 with fewer than half the outputs within the 2% band. Below a third, most of the
# gradient is blocked in that layer from the first step.
SATURATED_SLOPE = 1 / 3
HEALTHY_START_SLOPE = 0.6

# --- loss at chance -----------------------------------------------------------------
CHANCE_TOLERANCE = 0.05  # nats around ln K: batch noise of a uniform guess is ~0.02
# A healthy 2-layer sigmoid net at SGD 0.1 hovers at 2.24-2.29 for its first ~100 steps, then
# falls (2.16 at 150, 2.05 at 200): judge over 150 steps so its fall is visible.
CHANCE_MIN_STEPS = 150
CHANCE_ACCURACY_MARGIN = 0.08  # batch accuracy within this of the majority label's share counts as chance
# A test accuracy within this many test examples of a label's share is that share exactly:
# the test set is evaluated whole, so the fingerprint of predicting one label for every
# image (a prior-only net, or NaN logits whose argmax is 0) is an exact count.
FINGERPRINT_EXAMPLES = 0.5
CHANCE_TREND = 0.02  # nats the loss may fall over the window and still be "stuck"

# --- softmax before the loss (loss floor) ------------------------------------------
# While predictions are still near uniform, softmax cross-entropy on logits has an
# output-bias gradient equal to mean(p) - (batch label frequencies), whose norm is the
# label sampling noise sqrt((1 - 1/K) / B) (0.084 for K=10, B=128). Measured while the
# loss is within FLOOR_NEAR_CHANCE of ln K: every healthy and every other failing run
# 0.86-1.5x; softmax applied twice multiplies it by the softmax Jacobian, ~1/K: fail5
# 0.09-0.11x. Roughly half-way in log terms.
FLOOR_BIAS_GRAD_RATIO = 0.35
FLOOR_NEAR_CHANCE = 0.25  # "predictions still near uniform": loss within this of ln K
# Late evidence: the loss never goes below ln(1 + (K-1)/e) while accuracy is high.
# Lowest loss in a window whose median batch accuracy is >= 0.8: healthy max 0.17,
# fail5 1.47 (floor 1.46).
FLOOR_ACCURACY = 0.8
# Without a config, the batch size is read off batch accuracies (multiples of 1/B); fewer
# distinct values than this cannot pin it down.
MIN_DISTINCT_ACCURACIES = 5
# The batch sizes tried (the smallest step between accuracies times 1-4), and how well the
# batch accuracies must sit on multiples of 1/B: 90% of them within 1e-3 (float32 rounding).
BATCH_SIZE_MIN = 8
BATCH_SIZE_MAX = 4096
BATCH_MULTIPLE_TOLERANCE = 1e-3
BATCH_MULTIPLE_SHARE = 0.9
FLOOR_MARGIN = 0.01  # nats below the floor still compatible with it (float rounding)

# --- inputs -------------------------------------------------------------------------
INPUT_RAW_MAX = 20.0  # pixels in [0, 1] or standardised (max ~2.8); raw 0-255 reach 255
INPUT_RAW_MIN = -1.0  # raw pixels are >= 0; standardised MNIST's min is -0.42
# A batch max between these is raw byte pixels (0-255; a batch may lack a pure white pixel).
INPUT_BYTE_MAX_LOW = 100.0
INPUT_BYTE_MAX_HIGH = 256.0
INPUT_CRITICAL_MAX = 100.0  # inputs this large blow the first layer up: critical, not a warning
INPUT_LARGE_STD = 3.0  # any batch std this far above 1 is not normalised
# Noise: values far below 0 and far above 1, roughly symmetric about the mean.
NOISE_MIN_STD = 1.0  # clean MNIST in [0, 1] has std ~0.31; standardised has 1.0
NOISE_EXTENT = 3.0  # min <= mean - 3 and max >= mean + 3 (standardised MNIST: min -0.42)
NOISE_SYMMETRY = 0.35  # |(max - mean) - (mean - min)| / (max - min): raw/standardised ~0.7+
TRAIN_BELOW_TEST = 0.15  # test accuracy this far above training accuracy: training data is harder
# "Now" for a training accuracy set against the latest test accuracy: the last 3 records. A
# window of 20 reaches back 20 epochs in a per-epoch log (students' fail5 at 19 epochs: median
# 27% vs a last epoch near 70%, while the test set said 75%); the median of 3 batches of 128
# is within ~3 points of the true accuracy, against a 15-point margin.
NOW_RECORDS = 3
CLEAN_PIXEL_STD = 0.31  # std of MNIST pixels in [0, 1], to estimate the added noise

# --- learning rate ------------------------------------------------------------------
# |update| / |weight| per step, median over WINDOW steps: healthy max 0.074 (sigmoid at
# SGD 0.5, first steps); fail8 (Adam 0.05) 0.16, fail6 0.15: too close to call alone, so
# weight growth (below) carries fail8. DeepDiagnosis flags > 0.1.
LR_HIGH_UPDATE_RATIO = 0.2
HEALTHY_UPDATE_RATIO_MAX = 0.074  # quoted in the evidence
# Kernel norm growth over WINDOW steps: healthy max 1.27x (mostly <= 1.1x); fail8
# (Adam 0.05) 3.4x in its first 20 steps.
LR_HIGH_WEIGHT_GROWTH = 1.8
LR_HEALTHY_GROWTH = 1.3  # quoted in the evidence
LR_MIN_WEIGHT_NORM = 0.01  # below this a kernel is (near) zero: growth from it is an init problem
LR_SPIKE_LOSS = 3.0  # times ln K: a loss this far above chance after warm-up is a jump
LR_DIVERGE_FACTOR = 1.5  # recent loss median this many times the earlier median: diverging
# Per-epoch logs: the last epoch's mean loss this far above the best earlier one, while still
# above LR_REBOUND_FLOOR x chance. An epoch mean's batch noise is ~1%; a net at a sane step size
# only falls (or bumps at a loss near 0, which the floor leaves out).
LR_REBOUND = 1.1
LR_REBOUND_FLOOR = 0.5
LR_WARMUP_RECORDS = 20  # the first steps of any run are noisy; judge after them
# Below this on every kernel, weights barely move: 0.01% per step.
LR_LOW_UPDATE_RATIO = 1e-4
LR_LOW_MIN_STEPS = 100
LR_LOW_PROGRESS = 0.1  # share of the starting loss gained since the start
# Loss-only logs: the loss, in DESCENT_CHUNKS consecutive medians, falls with Kendall's tau at
# most -STEADY_DESCENT_TAU (90% of the pairs in order): a steady fall, which batch noise
# around a flat loss (a model that cannot learn) does not produce.
DESCENT_CHUNKS = 10
STEADY_DESCENT_TAU = 0.8

# --- confidence --------------------------------------------------------------------
CONFIDENCE_FACT = 0.99  # a measured fact (a NaN is a NaN)

# Loss at chance with the hidden activations' std falling this many orders of magnitude
# from the first to the last hidden layer: the init is too small for the depth. fail2 with
# ReLU but its U(-0.1, 0.1) init measures ~2.7 orders over 8 layers (x0.41 per layer);
# He-initialised ReLU nets stay within 0.5.
SHRINKING_SIGNAL_ORDERS = 2.0

# --- foreign logs (issue 14) ---------------------------------------------------------
# Logs written by other programs lack tblab's instruments; core/doctor/derived.py derives
# signals from what they hold. Calibrated on bench/foreign_eval.py's suite (64 runs: Keras'
# TensorBoard callback and three hand-written tf.summary styles, 16 healthy), with margins
# taken from how the quantities scale, not from one run.
# A ReLU layer's activation histogram has about half its mass exactly at 0; sigmoid none.
RELU_ZERO_PILE = 0.2
# "At an asymptote": within 2% of the activation's range of it (a sigmoid's slope there is
# below 1/12 of its peak). Saturated if at least SATURATED_FRACTION of the mass is there.
SATURATION_BAND = 0.02
# std x sqrt(fan in) of a kernel at the start: He 1.41, Glorot at most 1.41, LeCun 1.0.
# Above this the init is not a variance-scaled one.
SANE_INIT_GAIN = 1.6
# ReLU nets: each layer scales its input's size by ~ std x sqrt(fan in / 2); the same 1.35x
# per layer as EXPLODE_LAYER_GROWTH measured on activations is std x sqrt(fan in) >= 1.9.
# Suite exploding inits 2.1-2.5 (fail1's U(-0.4, 0.4) at width 100: 2.3); He 1.41.
EXPLODE_INIT_GAIN = 1.9
# Sigmoid/tanh: pre-activation std ~ gain x the rms of the layer's inputs (~0.6 for sigmoid
# or tanh outputs, ~0.33 for [0, 1] pixels); >= 3 puts most units where the slope is < 0.05.
SATURATE_PREACTIVATION_STD = 3.0
HIDDEN_INPUT_RMS = 0.6
PIXEL_INPUT_RMS = 0.33  # a [0, 1] MNIST digit: |x| ~ 9.3 over 784 pixels
# Weight movement (first to last histogram, over the first width). Healthy: every kernel
# 0.01-0.9; the first kernel at most ~0.7 orders below the most-moving one. Vanishing nets:
# the first kernel 0 to 1e-6 while the top ones move 1e-3-0.06.
VANISH_MOVEMENT_ORDERS = 2.0
MOVEMENT_ANY = 1e-4  # the most-moving kernel moved at least this: the net does train somewhere
# Nothing moves: every kernel below this over the run (suite lr-too-low runs 0-7e-4).
LR_LOW_MOVEMENT = 2e-3
# Kernel gradient norms at the end within this factor of the start, none zero: the weights
# are not changing (lr-too-low runs 1.03-1.07x; healthy and shuffled-label runs 1.5-10x).
LR_LOW_GRAD_STEADY = 1.15
# Raw pixels scale the first kernel's gradient (x^T delta) 255x: it dwarfs the next layer's.
# Healthy first/second ratio at the start 0.5-3.7; raw-pixel runs 7-8 (unless saturated/dead).
INPUT_GRAD_DOMINANCE = 6.0
# Test accuracy at chance while training accuracy is this far above it: the net memorises
# labels that carry no information about the images. Batch noise of a window's median training
# accuracy is ~0.015 (batch 64), of an epoch's mean far less: 0.1 is over 5 sigma. (0.15 missed
# two foreign runs memorising at 22-24% vs 12% after 900 steps / 14 epochs.)
LABELS_TRAIN_GAP = 0.1
# "At chance" for the test accuracy: every one of its last 3 evaluations within this of 1/K
# (shuffled-label runs 0.08-0.11 on a balanced 10-class test set).
LABELS_TEST_MARGIN = 0.05
# Training loss above this many times chance: training is unstable (too large steps), so a
# training accuracy below the test accuracy says nothing about noisy inputs.
NOISE_STABLE_LOSS = 1.5
CONFIDENCE_INFERRED = 0.65  # a finding inferred indirectly (from weights, config, shapes)
# A ReLU layer's bias starting this many times below the typical size of what its kernel adds
# (std x sqrt(fan in) x input rms) keeps every pre-activation negative: dead from the start.
DEAD_BIAS_REACH = 3.0

# --- consequences (core/doctor/refute.py) ---------------------------------------------
# A final test accuracy at least this high refutes a cause that stops the net from learning
# the digits (stuck at chance, vanishing, symmetric init, tiny steps, uninformative labels,
# saturation). Calibrated on bench/foreign_eval.py's suite (6 writers, 96 runs, offline
# sample): runs of those causes end at 0.07-0.33 (saturated 0.47-0.72); healthy runs at
# 0.90-0.93, the classic fail5 (softmax twice, not a blocking cause) at 0.907.
LEARNED_TEST_ACCURACY = 0.85

# --- loss curves (core/doctor/rules_curve.py) ---------------------------------------------
# Overfitting: the test loss's last OVERFIT_RISING_EVALS evaluations (median) at least
# OVERFIT_RISE (relative) and OVERFIT_MIN_NATS above its best, each of them above half that
# rise, while the training loss fell by OVERFIT_TRAIN_FALL since the best test evaluation.
# Calibrated on the flat writer (bench/foreign_logs/loop_writer.py, offline 4000-digit sample,
# test loss every 50 steps): a 784-512-512-10 Adam 1e-3 net over 2000 steps climbs from its best
# 0.226 (step 300) to 0.301 (x1.33) while its training loss falls 0.024 -> 9e-5; the suite's four
# healthy flat runs (600-1200 steps) end at most x1.13 above their best (0.279 -> 0.315).
OVERFIT_MIN_EVALS = 5
OVERFIT_RISING_EVALS = 3
OVERFIT_RISE = 0.25
OVERFIT_MIN_NATS = 0.05
OVERFIT_TRAIN_FALL = 0.3
# A loss exactly the same (within float32 rounding of the logged value) on FLAT_MIN_RECORDS
# records spanning FLAT_MIN_STEPS steps: batch noise alone moves a training loss by ~1e-2
# between batches (a net predicting the prior on batches of 64: ~0.02 nats). Measured on the 21
# frozen foreign fixtures and 32 student-style runs (dead, vanishing and NaN runs included): the
# longest stretch of equal consecutive loss values is 2 records (a NaN loss is not a value).
FLAT_MIN_RECORDS = 50
FLAT_MIN_STEPS = 100
FLAT_TOLERANCE = 1e-7
