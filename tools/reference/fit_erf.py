"""Fits the erf polynomials of Sources/MVADKernels/kernels.c (ERF_COEF) and prints the table.

erf(a) on 0 <= a < 4 is cut into eight half-unit intervals; on each, a degree-7 polynomial in
u = a - (interval centre) is fitted by least squares on 400 Chebyshev nodes against
math.erf (double precision). The script also prints the largest fit error over a fine grid.
Needs only numpy:

    python3 tools/reference/fit_erf.py
"""

import math

import numpy as np

WIDTH = 0.5
INTERVALS = 8
DEGREE = 7
NODES = 400


def fit_interval(index):
    centre = WIDTH * index + WIDTH / 2
    k = np.arange(NODES)
    u = (WIDTH / 2) * np.cos(np.pi * (k + 0.5) / NODES)
    y = np.array([math.erf(centre + t) for t in u])
    series = np.polynomial.chebyshev.Chebyshev.fit(u, y, DEGREE, domain=[-WIDTH / 2, WIDTH / 2])
    return series.convert(kind=np.polynomial.Polynomial).coef  # ascending powers of u


def main():
    table = np.array([fit_interval(i) for i in range(INTERVALS)])
    worst = 0.0
    for a in np.linspace(0, WIDTH * INTERVALS, 40001)[:-1]:
        i = min(int(a / WIDTH), INTERVALS - 1)
        u = a - (WIDTH * i + WIDTH / 2)
        worst = max(worst, abs(np.polynomial.polynomial.polyval(u, table[i]) - math.erf(a)))
    print(f"// largest fit error on [0, {WIDTH * INTERVALS}): {worst:.2e}")
    print("// [power][interval]")
    for power in range(DEGREE + 1):
        values = ["%.9ef" % table[i][power] for i in range(INTERVALS)]
        half = INTERVALS // 2
        print("    {" + ", ".join(values[:half]) + ",\n     " + ", ".join(values[half:]) + "},")


if __name__ == "__main__":
    main()
