// Verify a wxlogin webhook delivery (Java 11+, JDK only).
//
// wxlogin POSTs each event with
//   Wxlogin-Event-Id: <event id>
//   Wxlogin-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
// Check the signature over the RAW body bytes (before any JSON parsing), refuse a
// timestamp more than 5 minutes from now (a replayed old delivery), compare in constant
// time (MessageDigest.isEqual), then deduplicate by the event id: delivery is at least
// once (e.g. a unique key on event_id; answer a duplicate with 2xx too).
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public final class WebhookVerifier {
    public static final long TOLERANCE_SECONDS = 5 * 60;

    /** True when signatureHeader signs rawBody with secret. */
    public static boolean verify(String secret, String signatureHeader, byte[] rawBody, long nowSeconds) {
        Map<String, String> fields = new HashMap<>();
        for (String part : (signatureHeader == null ? "" : signatureHeader).split(",")) {
            int at = part.indexOf('=');
            if (at > 0) fields.put(part.substring(0, at).trim(), part.substring(at + 1).trim());
        }
        String t = fields.getOrDefault("t", "");
        String v1 = fields.getOrDefault("v1", "");
        if (!t.matches("\\d{1,15}") || !v1.matches("[0-9a-f]{64}")) return false;
        if (Math.abs(nowSeconds - Long.parseLong(t)) > TOLERANCE_SECONDS) return false;
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            mac.update((t + ".").getBytes(StandardCharsets.UTF_8));
            byte[] expected = mac.doFinal(rawBody);
            return MessageDigest.isEqual(expected, hex(v1));
        } catch (java.security.GeneralSecurityException e) {
            return false;
        }
    }

    private static byte[] hex(String text) {
        byte[] bytes = new byte[text.length() / 2];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) Integer.parseInt(text.substring(2 * i, 2 * i + 2), 16);
        }
        return bytes;
    }

    // java WebhookVerifier SECRET SIGNATURE BODY_FILE NOW: exit 0 when valid (used by the tests).
    public static void main(String[] args) throws Exception {
        byte[] body = Files.readAllBytes(Paths.get(args[2]));
        System.exit(verify(args[0], args[1], body, Long.parseLong(args[3])) ? 0 : 1);
    }
}
