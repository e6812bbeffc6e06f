package dev.wxlogin.spring;

import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import dev.wxlogin.spring.app.TestApp;
import dev.wxlogin.spring.testing.WxloginTestServer;
import dev.wxlogin.spring.testing.WxloginTestServer.Login;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.autoconfigure.web.servlet.AutoConfigureMockMvc;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.servlet.MockMvc;

/**
 * An expired token is refused: a server issuing 2-second tokens, and no clock skew, so the
 * test waits seconds, not the default skew's 30. In jwk-set-uri mode, which needs no
 * discovery document.
 */
@SpringBootTest(classes = TestApp.class)
@AutoConfigureMockMvc
class ExpiryTest {

    static WxloginTestServer server = WxloginTestServer.start("--access-token-ttl", "2");

    @DynamicPropertySource
    static void wxlogin(DynamicPropertyRegistry registry) {
        registry.add("wxlogin.jwk-set-uri", server::jwksUrl);
        registry.add("wxlogin.issuer-uri", server::url);
        registry.add("wxlogin.audiences", () -> WxloginTestServer.APP);
        registry.add("wxlogin.clock-skew", () -> "0s");
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Autowired
    MockMvc mvc;

    @Test
    void an_expired_token_is_refused() throws Exception {
        Login grace = server.login("grace");
        mvc.perform(get("/whoami").header("Authorization", "Bearer " + grace.accessToken()))
                .andExpect(status().isOk());
        long exp = Tokens.claims(grace.accessToken()).get("exp").asLong();
        Thread.sleep(Math.max(0, exp * 1000 + 1100 - System.currentTimeMillis()));
        mvc.perform(get("/whoami").header("Authorization", "Bearer " + grace.accessToken()))
                .andExpect(status().isUnauthorized());
    }
}
