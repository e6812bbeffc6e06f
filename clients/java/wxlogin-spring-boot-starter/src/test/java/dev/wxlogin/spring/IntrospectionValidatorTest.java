package dev.wxlogin.spring;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.wxlogin.spring.admin.WxloginAdminClient;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.springframework.security.oauth2.jwt.Jwt;

/** The introspection cache and its failure mode, against a stand-in that counts calls. */
class IntrospectionValidatorTest {

    HttpServer stub;
    AtomicInteger calls = new AtomicInteger();
    AtomicReference<String> answer = new AtomicReference<>("{\"active\":true}");
    MutableClock clock = new MutableClock();

    @BeforeEach
    void start() throws IOException {
        stub = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        stub.createContext("/v1/introspect", exchange -> {
            calls.incrementAndGet();
            byte[] body = answer.get().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().add("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        stub.start();
    }

    @AfterEach
    void stop() {
        stub.stop(0);
    }

    private IntrospectionValidator validator(URI base) {
        return new IntrospectionValidator(new WxloginAdminClient(base, "wxa_test"), Duration.ofSeconds(10), clock);
    }

    private URI stubUrl() {
        return URI.create("http://127.0.0.1:" + stub.getAddress().getPort());
    }

    private static Jwt token(String value) {
        return Jwt.withTokenValue(value).header("alg", "ES256").subject("u").build();
    }

    @Test
    void an_answer_is_reused_within_the_ttl_and_asked_again_after_it() {
        IntrospectionValidator validator = validator(stubUrl());
        assertThat(validator.validate(token("t1")).hasErrors()).isFalse();
        assertThat(validator.validate(token("t1")).hasErrors()).isFalse();
        assertThat(calls).hasValue(1);

        answer.set("{\"active\":false}");
        clock.advance(Duration.ofSeconds(11));
        assertThat(validator.validate(token("t1")).hasErrors()).isTrue();
        assertThat(calls).hasValue(2);
        assertThat(validator.validate(token("t2")).hasErrors()).isTrue();
        assertThat(calls).hasValue(3);
    }

    @Test
    void a_server_that_cannot_be_asked_means_the_token_is_refused() throws IOException {
        int closedPort;
        try (var socket = new java.net.ServerSocket(0)) {
            closedPort = socket.getLocalPort();
        }
        IntrospectionValidator validator = validator(URI.create("http://127.0.0.1:" + closedPort));
        assertThat(validator.validate(token("t1")).getErrors())
                .anySatisfy(e -> assertThat(e.getDescription()).contains("could not be checked"));
    }

    @Test
    void an_error_answer_means_the_token_is_refused_and_is_not_cached() {
        stub.removeContext("/v1/introspect");
        stub.createContext("/v1/introspect", exchange -> {
            calls.incrementAndGet();
            byte[] body = "{\"error\":{\"code\":\"forbidden\",\"message\":\"no scope\"}}".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(403, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        IntrospectionValidator validator = validator(stubUrl());
        assertThat(validator.validate(token("t1")).hasErrors()).isTrue();
        assertThat(validator.validate(token("t1")).hasErrors()).isTrue();
        assertThat(calls).hasValue(2);
    }

    static final class MutableClock extends Clock {
        private Instant now = Instant.parse("2026-12-01T00:00:00Z");

        void advance(Duration by) {
            now = now.plus(by);
        }

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
