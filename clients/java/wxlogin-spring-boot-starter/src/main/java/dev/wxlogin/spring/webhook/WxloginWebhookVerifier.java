package dev.wxlogin.spring.webhook;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Checks a webhook delivery's {@code Wxlogin-Signature: t=<unix seconds>,v1=<hex>} header,
 * where the hex is HMAC-SHA256(secret, {@code "<t>.<body>"}), before its body is trusted.
 *
 * <p>The signature covers the raw body bytes as received (verify before parsing: a JSON
 * round trip changes them) and the timestamp, so a captured delivery replayed more than
 * {@code tolerance} (5 minutes) later is refused. Several {@code v1} values are accepted
 * (one per secret while a secret is being changed). Comparison is constant-time.
 */
public class WxloginWebhookVerifier {

    public static final String SIGNATURE_HEADER = "Wxlogin-Signature";
    public static final Duration DEFAULT_TOLERANCE = Duration.ofSeconds(300);

    private final SecretKeySpec key;
    private final Clock clock;
    private final Duration tolerance;

    public WxloginWebhookVerifier(String secret) {
        this(secret, Clock.systemUTC(), DEFAULT_TOLERANCE);
    }

    public WxloginWebhookVerifier(String secret, Clock clock, Duration tolerance) {
        if (secret == null || secret.isEmpty()) {
            throw new IllegalArgumentException("the webhook secret is empty");
        }
        this.key = new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256");
        this.clock = clock;
        this.tolerance = tolerance;
    }

    /** Throws {@link InvalidWebhookSignatureException} unless the header signs this body now. */
    public void verify(String signatureHeader, byte[] body) {
        if (signatureHeader == null || signatureHeader.isBlank()) {
            throw new InvalidWebhookSignatureException("no " + SIGNATURE_HEADER + " header");
        }
        Long timestamp = null;
        List<String> signatures = new ArrayList<>();
        for (String part : signatureHeader.split(",")) {
            String item = part.strip();
            if (item.startsWith("t=")) {
                try {
                    timestamp = Long.parseLong(item.substring(2));
                } catch (NumberFormatException e) {
                    throw new InvalidWebhookSignatureException("the timestamp is not a number");
                }
            } else if (item.startsWith("v1=")) {
                signatures.add(item.substring(3));
            }
        }
        if (timestamp == null || signatures.isEmpty()) {
            throw new InvalidWebhookSignatureException("the header needs t= and v1=");
        }
        long now = clock.instant().getEpochSecond();
        if (Math.abs(now - timestamp) > tolerance.toSeconds()) {
            throw new InvalidWebhookSignatureException("the timestamp is outside the tolerance (a replay, or a clock off)");
        }
        byte[] expected = HexFormat.of().formatHex(sign(timestamp, body)).getBytes(StandardCharsets.US_ASCII);
        for (String candidate : signatures) {
            if (MessageDigest.isEqual(expected, candidate.toLowerCase().getBytes(StandardCharsets.US_ASCII))) {
                return;
            }
        }
        throw new InvalidWebhookSignatureException("no v1 signature matches the body");
    }

    /** {@link #verify}, as a yes or no. */
    public boolean isValid(String signatureHeader, byte[] body) {
        try {
            verify(signatureHeader, body);
            return true;
        } catch (InvalidWebhookSignatureException e) {
            return false;
        }
    }

    private byte[] sign(long timestamp, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(key);
            mac.update((timestamp + ".").getBytes(StandardCharsets.US_ASCII));
            return mac.doFinal(body);
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("every Java has HmacSHA256", e);
        }
    }
}
