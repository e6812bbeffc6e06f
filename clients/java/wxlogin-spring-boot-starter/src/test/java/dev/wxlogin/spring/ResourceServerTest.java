package dev.wxlogin.spring;

import static org.assertj.core.api.Assertions.assertThat;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.empty;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

import dev.wxlogin.spring.admin.WxloginAdminClient;
import dev.wxlogin.spring.app.TestApp;
import dev.wxlogin.spring.testing.WxloginTestServer;
import dev.wxlogin.spring.testing.WxloginTestServer.Login;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.autoconfigure.web.servlet.AutoConfigureMockMvc;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import org.springframework.test.web.servlet.MockMvc;
import org.springframework.test.web.servlet.ResultActions;

/**
 * The starter against a real server, in discovery mode (only {@code wxlogin.issuer-uri} and
 * {@code wxlogin.audiences}, plus an admin key to grant roles): the server's tokens pass,
 * and every token a backend must refuse is refused.
 */
@SpringBootTest(classes = TestApp.class)
@AutoConfigureMockMvc
class ResourceServerTest {

    static WxloginTestServer server = WxloginTestServer.start();
    static String adminKey = server.createAdminKey("resource-test", "users:read,users:write");

    @DynamicPropertySource
    static void wxlogin(DynamicPropertyRegistry registry) {
        registry.add("wxlogin.issuer-uri", server::url);
        registry.add("wxlogin.audiences", () -> WxloginTestServer.APP);
        registry.add("wxlogin.admin-key", () -> adminKey);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @Autowired
    MockMvc mvc;

    @Autowired
    WxloginAdminClient admin;

    private ResultActions call(String path, String token) throws Exception {
        return mvc.perform(get(path).header("Authorization", "Bearer " + token));
    }

    @Test
    void a_token_of_the_configured_app_is_accepted_and_names_user_app_and_session() throws Exception {
        Login alice = server.login("alice");
        String sid = Tokens.claims(alice.accessToken()).get("sid").asText();
        call("/whoami", alice.accessToken())
                .andExpect(status().isOk())
                .andExpect(jsonPath("$.userId").value(alice.userId()))
                .andExpect(jsonPath("$.name").value(alice.userId()))
                .andExpect(jsonPath("$.appid").value(WxloginTestServer.APP))
                .andExpect(jsonPath("$.sessionId").value(sid))
                .andExpect(jsonPath("$.roles", empty()))
                .andExpect(jsonPath("$.authorities", empty()));
    }

    @Test
    void a_request_without_a_token_is_refused() throws Exception {
        mvc.perform(get("/whoami")).andExpect(status().isUnauthorized());
        call("/whoami", "not-a-jwt").andExpect(status().isUnauthorized());
    }

    @Test
    void a_forged_token_is_refused() throws Exception {
        Login bob = server.login("bob");
        call("/whoami", Tokens.flipSignature(bob.accessToken())).andExpect(status().isUnauthorized());
        call("/whoami", Tokens.withSubject(bob.accessToken(), "someone-else")).andExpect(status().isUnauthorized());
    }

    @Test
    void a_token_of_another_app_on_the_same_server_is_refused() throws Exception {
        Login other = server.login(WxloginTestServer.OTHER_APP, "carol");
        assertThat(Tokens.claims(other.accessToken()).get("aud").asText()).isEqualTo(WxloginTestServer.OTHER_APP);
        call("/whoami", other.accessToken()).andExpect(status().isUnauthorized());
    }

    @Test
    void a_token_of_another_deployment_is_refused() throws Exception {
        try (WxloginTestServer staging = WxloginTestServer.start()) {
            call("/whoami", staging.login("dave").accessToken()).andExpect(status().isUnauthorized());
        }
    }

    @Test
    void roles_become_role_authorities_in_tokens_issued_after_the_grant() throws Exception {
        Login erin = server.login("erin");
        call("/admin-only", erin.accessToken()).andExpect(status().isForbidden());

        admin.putRoles(erin.userId(), List.of("admin", "support"));
        Login refreshed = server.refresh(erin);

        call("/whoami", refreshed.accessToken())
                .andExpect(status().isOk())
                .andExpect(jsonPath("$.roles", contains("admin", "support")))
                .andExpect(jsonPath("$.authorities", contains("ROLE_admin", "ROLE_support")));
        call("/admin-only", refreshed.accessToken()).andExpect(status().isOk());
    }

    @Test
    void offline_checks_take_a_logged_out_token_until_it_expires() throws Exception {
        // The price of offline verification, and why wxlogin.introspect exists (IntrospectionTest).
        Login frank = server.login("frank");
        server.logout(frank);
        call("/whoami", frank.accessToken()).andExpect(status().isOk());
    }
}
