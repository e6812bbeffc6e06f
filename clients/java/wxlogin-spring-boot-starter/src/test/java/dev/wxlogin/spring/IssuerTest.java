package dev.wxlogin.spring;

import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import dev.wxlogin.spring.app.TestApp;
import dev.wxlogin.spring.testing.WxloginTestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.autoconfigure.web.servlet.AutoConfigureMockMvc;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.servlet.MockMvc;

/**
 * {@code iss} is checked on its own: the server's keys are trusted (its JWKS), but the
 * service expects another deployment's issuer, so the server's well-signed token is refused.
 */
@SpringBootTest(classes = TestApp.class)
@AutoConfigureMockMvc
class IssuerTest {

    static WxloginTestServer server = WxloginTestServer.start();

    @DynamicPropertySource
    static void wxlogin(DynamicPropertyRegistry registry) {
        registry.add("wxlogin.jwk-set-uri", server::jwksUrl);
        registry.add("wxlogin.issuer-uri", () -> "https://staging.example.com");
        registry.add("wxlogin.audiences", () -> WxloginTestServer.APP);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Autowired
    MockMvc mvc;

    @Test
    void a_token_whose_iss_is_not_the_configured_issuer_is_refused() throws Exception {
        mvc.perform(get("/whoami").header("Authorization", "Bearer " + server.login("mia").accessToken()))
                .andExpect(status().isUnauthorized());
    }
}
