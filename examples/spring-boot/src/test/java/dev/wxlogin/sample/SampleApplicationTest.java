package dev.wxlogin.sample;

import static org.assertj.core.api.Assertions.assertThat;

import dev.wxlogin.spring.testing.WxloginTestServer;
import dev.wxlogin.spring.testing.WxloginTestServer.Login;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The "done when": the sample app, with only the starter and its two properties
 * (pointed at a real wxlogin serve --sim), on a real port, accepts a wxlogin token.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
class SampleApplicationTest {

    static WxloginTestServer server = WxloginTestServer.start();
    static HttpClient http = HttpClient.newHttpClient();

    @DynamicPropertySource
    static void theTwoProperties(DynamicPropertyRegistry registry) {
        registry.add("wxlogin.issuer-uri", server::url);
        registry.add("wxlogin.audiences", () -> WxloginTestServer.APP);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    @LocalServerPort
    int port;

    HttpResponse<String> hello(String token) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/hello"));
        if (token != null) {
            request.header("Authorization", "Bearer " + token);
        }
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void a_wxlogin_token_is_accepted() throws Exception {
        Login alice = server.login("alice");
        HttpResponse<String> answer = hello(alice.accessToken());
        assertThat(answer.statusCode()).isEqualTo(200);
        assertThat(answer.body()).contains("\"hello\":\"" + alice.userId() + "\"")
                .contains("\"appid\":\"" + WxloginTestServer.APP + "\"");
    }

    @Test
    void no_token_and_another_apps_token_are_refused() throws Exception {
        assertThat(hello(null).statusCode()).isEqualTo(401);
        assertThat(hello(server.login(WxloginTestServer.OTHER_APP, "bob").accessToken()).statusCode()).isEqualTo(401);
    }
}
