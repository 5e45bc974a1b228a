"""Under /api/ a URL that matches no route, or a request Django refuses before any view, answers
in JSON like every API error; pages keep their HTML."""


def test_an_api_url_that_matches_no_route_is_a_json_404(api_as):
    api = api_as("admin")
    for path in ("/api/v1/reason-codes/-1/", "/api/v1/routing-rules/null,null/", "/api/v1/nope/"):
        response = api.get(path)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert response.json() == {"detail": "Not found."}


def test_a_page_that_matches_no_route_is_still_the_html_page(client_as):
    response = client_as("admin").get("/leads/not-a-number/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_body_django_refuses_is_a_json_400_under_the_api(acme, api_as):
    api = api_as("admin")
    fields = "&".join(f"f{n}=x" for n in range(1500))  # beyond DATA_UPLOAD_MAX_NUMBER_FIELDS
    response = api.post("/api/v1/users/", fields, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


def test_the_json_only_endpoints_refuse_a_form_body_with_415(acme, api_as):
    response = api_as("sales_leader").post(
        "/api/v1/reason-codes/",
        "label=x&outcome=rejected",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 415
