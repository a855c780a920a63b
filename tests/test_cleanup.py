from pdfqa.corpus.cleanup import CleanupOptions, clean_pages, strip_headers_footers

BODIES = ["패키지를 내려받는다.", "설정 파일을 고친다.", "문서를 컴파일한다.", "결과를 확인한다."]


def _doc(n_pages: int) -> list[str]:
    """Pages with an alternating running header, a page-number footer and distinct bodies."""
    pages = []
    for i in range(1, n_pages + 1):
        header = f"{i} 제 1 장 설치 안내" if i % 2 == 0 else f"제 1 장 설치 안내 {i}"
        pages.append("\n".join([header, BODIES[i - 1], f"- {i} -"]))
    return pages


def test_running_headers_and_page_numbers_are_removed():
    cleaned = clean_pages(_doc(4))
    assert cleaned == BODIES


def test_headers_are_kept_when_they_do_not_repeat_enough():
    pages = [["머리말", "본문 가"], ["다른 머리", "본문 나"]]
    assert strip_headers_footers(pages, CleanupOptions(header_footer_min_pages=3)) == pages


def test_korean_line_wraps_are_rejoined_without_hyphen():
    # "설치" occurs unbroken elsewhere in the document, so the wrap inside it gets no space.
    long_line = "이 설명서는 패키지를 설치하는 방법과 환경을 구성하는 방법을 자세히 안내하며 설"
    page = "\n".join([long_line, "치 과정에서 생기는 문제도 다룹니다.", "설치 전에 백업하세요."])
    text = clean_pages([page])[0]
    assert "설치 과정에서" in text
    assert text.count("\n") == 1  # one paragraph break after the first sentence


def test_word_boundary_wraps_keep_their_space():
    long_line = "The manual explains how the typesetting engine handles Korean text and"
    text = clean_pages([long_line + "\nfonts in every chapter of this guide."])[0]
    assert "text and fonts in every" in text


def test_english_hyphenation_is_undone_when_the_word_exists():
    lines = [
        "The configuration option controls how documents are rendered, and the config-",
        "uration is read once. The configuration file lives in your home directory.",
    ]
    assert "the configuration is read" in clean_pages(["\n".join(lines)])[0]


def test_short_headings_and_list_items_start_paragraphs():
    page = "\n".join(
        [
            "1.2 설치",
            "패키지 관리자로 설치하는 방법은 다음과 같으며 대부분의 배포판에서 같은 방식으로 동작합니다",
            "• 첫째 항목",
            "• 둘째 항목",
        ]
    )
    assert clean_pages([page])[0].split("\n") == [
        "1.2 설치",
        "패키지 관리자로 설치하는 방법은 다음과 같으며 대부분의 배포판에서 같은 방식으로 동작합니다",
        "• 첫째 항목",
        "• 둘째 항목",
    ]


def test_dot_leaders_collapse():
    assert clean_pages(["제 1 절 소개 . . . . . . . . . 3"])[0] == "제 1 절 소개 … 3"


def test_control_characters_and_nfd_are_normalised():
    import unicodedata

    text = clean_pages([unicodedata.normalize("NFD", "한글\x00 문서")])[0]
    assert text == "한글 문서"
