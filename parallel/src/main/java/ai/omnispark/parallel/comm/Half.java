package ai.omnispark.parallel.comm;

/** IEEE 754 binary16 conversions; Java 17 has no Float.float16ToFloat / floatToFloat16. */
final class Half {
    private Half() {}

    static float toFloat(short h) {
        int bits = h & 0xffff;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1f;
        int mant = bits & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** Rounds to nearest, ties to even; overflow goes to infinity, NaN stays NaN. */
    static short fromFloat(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7fffffff;
        if (abs >= 0x7f800000) { // inf or NaN
            return (short) (sign | 0x7c00 | (abs > 0x7f800000 ? 0x200 : 0));
        }
        if (abs >= 0x477ff000) { // rounds to >= 65520: overflow
            return (short) (sign | 0x7c00);
        }
        if (abs < 0x38800000) { // below the smallest normal half: subnormal or zero
            // value in units of 2^-24, rounded to nearest even
            float v = Float.intBitsToFloat(abs) * 0x1p24f;
            int r = (int) Math.rint(v);
            return (short) (sign | r);
        }
        int exp = ((abs >>> 23) - 112) << 10;
        int mant = abs & 0x7fffff;
        int half = exp | (mant >>> 13);
        int rest = mant & 0x1fff;
        if (rest > 0x1000 || (rest == 0x1000 && (half & 1) != 0)) {
            half++; // may carry into the exponent, which is still correct
        }
        return (short) (sign | half);
    }
}
