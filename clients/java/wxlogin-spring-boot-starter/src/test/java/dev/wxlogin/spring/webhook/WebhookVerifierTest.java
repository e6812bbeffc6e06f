package dev.wxlogin.spring.webhook;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.junit.jupiter.api.Test;

class WebhookVerifierTest {

    static final String SECRET = "whsec_test_secret";
    static final long T = 1796160000L;
    static final byte[] BODY = "{\"id\":\"evt_1\",\"type\":\"user.created\"}".getBytes(StandardCharsets.UTF_8);
    /** python3 -c 'import hmac,hashlib;print(hmac.new(b"whsec_test_secret",b"1796160000.{...}",hashlib.sha256).hexdigest())' */
    static final String EXPECTED_HEX = "f5cd8fe3edfbcd0afdf6e94138f688bce379faca3c4b2c315aa2331d5010c546";

    static WxloginWebhookVerifier at(long nowSeconds) {
        return new WxloginWebhookVerifier(SECRET, Clock.fixed(Instant.ofEpochSecond(nowSeconds), ZoneOffset.UTC),
                WxloginWebhookVerifier.DEFAULT_TOLERANCE);
    }

    @Test
    void the_fixed_vector_is_the_hmac_of_t_dot_body() throws Exception {
        Mac mac = Mac.getInstance("HmacSHA256");
        mac.init(new SecretKeySpec(SECRET.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
        mac.update((T + ".").getBytes(StandardCharsets.US_ASCII));
        assertThat(HexFormat.of().formatHex(mac.doFinal(BODY))).isEqualTo(EXPECTED_HEX);
    }

    @Test
    void a_signed_delivery_is_accepted() {
        at(T + 10).verify("t=" + T + ",v1=" + EXPECTED_HEX, BODY);
        assertThat(at(T - 300).isValid("t=" + T + ",v1=" + EXPECTED_HEX, BODY)).isTrue();
        // one of several v1 values (a secret being changed) is enough; upper-case hex too
        assertThat(at(T).isValid("t=" + T + ", v1=" + "0".repeat(64) + ",v1=" + EXPECTED_HEX.toUpperCase(), BODY)).isTrue();
    }

    @Test
    void a_changed_body_or_secret_is_refused() {
        byte[] changed = "{\"id\":\"evt_1\",\"type\":\"user.deleted\"}".getBytes(StandardCharsets.UTF_8);
        assertThatThrownBy(() -> at(T).verify("t=" + T + ",v1=" + EXPECTED_HEX, changed))
                .isInstanceOf(InvalidWebhookSignatureException.class);
        assertThat(new WxloginWebhookVerifier("other", Clock.fixed(Instant.ofEpochSecond(T), ZoneOffset.UTC),
                Duration.ofSeconds(300)).isValid("t=" + T + ",v1=" + EXPECTED_HEX, BODY)).isFalse();
        // the signature binds the timestamp: moving t breaks it
        assertThat(at(T).isValid("t=" + (T + 1) + ",v1=" + EXPECTED_HEX, BODY)).isFalse();
    }

    @Test
    void a_delivery_older_or_newer_than_five_minutes_is_refused() {
        assertThatThrownBy(() -> at(T + 301).verify("t=" + T + ",v1=" + EXPECTED_HEX, BODY))
                .isInstanceOf(InvalidWebhookSignatureException.class)
                .hasMessageContaining("tolerance");
        assertThat(at(T - 301).isValid("t=" + T + ",v1=" + EXPECTED_HEX, BODY)).isFalse();
    }

    @Test
    void a_malformed_header_is_refused() {
        WxloginWebhookVerifier verifier = at(T);
        assertThat(verifier.isValid(null, BODY)).isFalse();
        assertThat(verifier.isValid("", BODY)).isFalse();
        assertThat(verifier.isValid("v1=" + EXPECTED_HEX, BODY)).isFalse();
        assertThat(verifier.isValid("t=" + T, BODY)).isFalse();
        assertThat(verifier.isValid("t=soon,v1=" + EXPECTED_HEX, BODY)).isFalse();
    }
}
